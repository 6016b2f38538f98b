"""The job store schema by Alembic: new databases, databases of the old hand-written runner,
and many servers migrating one new database at the same time."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
import requests
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from conftest import write_ledger_method
from services import fresh_postgres_database
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    text,
)

from ccp import migrations
from ccp.jobstore import JobStore, make_engine, metadata
from ccp.methodstore import MethodStore

VERSION_TABLES = ("alembic_version", "ccp_schema_version")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def new_database(request, tmp_path: Path) -> Iterator[Callable[[], str]]:
    """Make empty databases: SQLite files, or PostgreSQL databases of their own."""
    with ExitStack() as stack:
        def make() -> str:
            if request.param == "sqlite":
                return f"sqlite:///{tmp_path / uuid.uuid4().hex}.db"
            return stack.enter_context(fresh_postgres_database())

        yield make


def schema_of(url: str) -> dict[str, Any]:
    """Tables with their columns (in order), primary key and indexes; no version tables."""
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return {table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"], c.get("default"))
                        for c in inspector.get_columns(table)],
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)),
        } for table in sorted(inspector.get_table_names()) if table not in VERSION_TABLES}
    finally:
        engine.dispose()


def differences_from_the_code(url: str) -> list[Any]:
    """What `alembic revision --autogenerate` would write: nothing when the database has
    exactly the tables, columns and indexes of ccp/jobstore.py."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return compare_metadata(MigrationContext.configure(connection), metadata)
    finally:
        engine.dispose()


def revisions_in(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text("SELECT version_num FROM alembic_version")))
    finally:
        engine.dispose()


def tables_in(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


# --- the old runner's schema, frozen as CCP made it before Alembic (commit bf8a9fc) ----------
# Version 1 created ccp_jobs, version 2 ccp_method_versions (without `context` when version 2
# was the newest, with it afterwards), version 3 added `context`, version 4 three columns of
# ccp_jobs and ccp_dispatch; ccp_schema_version recorded each version applied. The tables as
# the code of the newest version `version` created them:
def old_tables(version: int) -> list[Table]:
    old = MetaData()
    tables = [Table(
        "ccp_schema_version", old,
        Column("version", Integer, primary_key=True),
        Column("applied", String(40), nullable=False),
    ), Table(
        "ccp_jobs", old,
        Column("identifier", String(64), primary_key=True),
        Column("process_id", String(128), nullable=False, index=True),
        Column("process_version", String(64), nullable=False, default=""),
        Column("infrastructure_id", String(128), nullable=False, default=""),
        Column("status", String(16), nullable=False, index=True),
        Column("message", Text, nullable=False, default=""),
        Column("progress", Integer, nullable=False, default=0),
        Column("created", String(40), nullable=False, index=True),
        Column("started", String(40)),
        Column("finished", String(40)),
        Column("updated", String(40), nullable=False),
        Column("request", Text, nullable=False, default="{}"),
        Column("inputs", Text, nullable=False, default="{}"),
        Column("owner", String(256), index=True),
        Column("claims", Text, nullable=False, default="{}"),
        Column("worker", String(64)),
        Column("heartbeat", Float),
        Column("instance", Text),
        Column("dismiss_requested", Boolean, nullable=False, default=False),
        Column("stored", Boolean, nullable=False, default=False),
        Column("outputs", Text),
        Column("derived_from", String(64)),
        Column("method", Text, nullable=False, default="{}"),
        Column("infrastructure", Text, nullable=False, default="{}"),
        *([Column("method_digest", String(80)), Column("method_source", String(16)),
           Column("archive_bytes", BigInteger)] if version >= 4 else []),
    )]
    if version >= 2:
        tables.append(Table(
            "ccp_method_versions", old,
            Column("method_id", String(128), primary_key=True),
            Column("version", String(64), primary_key=True),
            Column("document", Text, nullable=False),
            Column("owner", String(256)),
            *([Column("context", String(256))] if version >= 3 else []),
            Column("created", String(40), nullable=False),
            Column("current", Boolean, nullable=False, default=False, index=True),
        ))
    if version >= 4:
        tables.append(Table(
            "ccp_dispatch", old,
            Column("owner", String(256), primary_key=True),
            Column("last_claimed", Float, nullable=False),
        ))
    return tables


def make_old_runner_database(url: str, version: int) -> None:
    """A database that the old runner made at `version` (1..4), with a job in it and, from
    version 2 on, a deployed Method."""
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = {table.name: table for table in old_tables(version)}
        for table in tables.values():
            table.create(connection)
        connection.execute(tables["ccp_jobs"].insert().values(
            identifier="old-job", process_id="hello-world", status="successful",
            created="2026-01-01T00:00:00Z", updated="2026-01-01T00:00:00Z"))
        if version >= 2:
            connection.execute(tables["ccp_method_versions"].insert().values(
                method_id="old-method", version="1", document='{"id": "old-method"}',
                created="2026-01-01T00:00:00Z", current=True))
        for applied in range(1, version + 1):
            connection.execute(tables["ccp_schema_version"].insert().values(
                version=applied, applied="2026-01-01T00:00:00Z"))
    engine.dispose()


# --- new databases ------------------------------------------------------------------------
def test_a_new_database_gets_the_schema_of_the_code_at_head(new_database) -> None:
    url = new_database()
    store = JobStore(url)
    assert revisions_in(url) == [migrations.head()]
    assert differences_from_the_code(url) == []
    assert tables_in(url) == {"alembic_version", "ccp_jobs", "ccp_method_versions",
                              "ccp_dispatch", "ccp_callbacks", "ccp_job_controls",
                              "ccp_infrastructure_checks", "ccp_metric_samples", "ccp_phases"}
    # Again: nothing to do.
    assert migrations.upgrade(store.engine) == migrations.head()
    assert revisions_in(url) == [migrations.head()]


def test_a_new_database_is_identical_to_one_the_old_runner_made(new_database) -> None:
    """Revisions 0001..0004 make exactly the old runner's newest schema (later revisions
    change it further, for old and new databases alike)."""
    by_alembic, by_old_runner = new_database(), new_database()
    newest = max(migrations.LEGACY_REVISIONS)
    engine = create_engine(by_alembic)
    with engine.connect() as connection:
        command.upgrade(migrations.alembic_config(connection),
                        migrations.LEGACY_REVISIONS[newest])
        connection.commit()
    engine.dispose()
    make_old_runner_database(by_old_runner, newest)
    assert schema_of(by_alembic) == schema_of(by_old_runner)


# --- databases of the old runner ------------------------------------------------------------
@pytest.mark.parametrize("version", sorted(migrations.LEGACY_REVISIONS))
def test_an_old_runner_database_is_adopted_and_upgraded_in_place(
        new_database, version: int) -> None:
    url = new_database()
    make_old_runner_database(url, version)

    store = JobStore(url)

    assert revisions_in(url) == [migrations.head()]
    assert "ccp_schema_version" not in tables_in(url)
    assert differences_from_the_code(url) == []
    # The tables were kept, not made anew: the old rows are there.
    assert store.get("old-job").status == "successful"
    methods = MethodStore(store.engine)
    if version >= 2:
        assert methods.version("old-method", "1") == ({"id": "old-method"}, None, None)
    # `context` (version 3) and fair dispatch (version 4) work on every adopted database.
    assert methods.put("new-method", "1", {"id": "new-method"}, None, context="ctx")
    assert methods.current()["new-method"] == ({"id": "new-method"}, None, "ctx")
    store.add({"identifier": "new-job", "process_id": "p", "owner": "someone"})
    assert store.claim_next("worker").identifier == "new-job"


def test_a_database_of_a_newer_runner_is_refused_and_left_alone(new_database) -> None:
    url = new_database()
    make_old_runner_database(url, 4)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO ccp_schema_version VALUES (99, 'later')"))
    engine.dispose()
    with pytest.raises(migrations.UnknownSchemaVersion, match="99"):
        JobStore(url)
    assert tables_in(url) == {"ccp_schema_version", "ccp_jobs", "ccp_method_versions",
                              "ccp_dispatch"}


# --- many at once ---------------------------------------------------------------------------
MIGRATE_WHEN_TOLD = """
import sys
from ccp.jobstore import make_engine
from ccp.migrations import upgrade
engine = make_engine(sys.argv[1])
engine.connect().close()
print("ready", flush=True)
sys.stdin.readline()
print(upgrade(engine), flush=True)
"""


def test_processes_migrating_one_new_database_at_once_never_fail(new_database) -> None:
    """The reported bug: two `ccp serve` on one new PostgreSQL database, one died with a
    UniqueViolation. Each process here is connected and has imported everything, so they
    all start their upgrade at the same moment."""
    url = new_database()
    processes = [subprocess.Popen([sys.executable, "-c", MIGRATE_WHEN_TOLD, url],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(6)]
    try:
        for process in processes:
            assert process.stdout.readline().strip() == "ready", process.stderr.read()
        for process in processes:
            process.stdin.write("go\n")
            process.stdin.flush()
        results = [(process.wait(timeout=120), process.stdout.read().strip(),
                    process.stderr.read()) for process in processes]
    finally:
        for process in processes:
            process.kill()
            process.wait()
    for returncode, revision, errors in results:
        assert returncode == 0, errors
        assert revision == migrations.head()
    assert revisions_in(url) == [migrations.head()]
    assert differences_from_the_code(url) == []


def test_threads_migrating_one_new_database_at_once_never_fail(new_database) -> None:
    url = new_database()
    engines = [make_engine(url) for _ in range(4)]
    start = threading.Barrier(len(engines))

    def migrate(engine) -> str:
        start.wait()
        return migrations.upgrade(engine)

    with ThreadPoolExecutor(len(engines)) as pool:
        revisions = list(pool.map(migrate, engines))
    for engine in engines:
        engine.dispose()
    assert revisions == [migrations.head()] * len(engines)
    assert revisions_in(url) == [migrations.head()]


@pytest.mark.postgres
def test_servers_started_together_on_a_new_postgresql_database_all_serve(
        fresh_postgres_url: str, server_process, tmp_path: Path, ledger: Path) -> None:
    url = fresh_postgres_url
    methods = tmp_path / "methods"
    write_ledger_method(methods, "count-run")
    common = {"CCP_DATABASE_URL": url, "CCP_METHODS_DIR": str(methods),
              "CCP_CONCURRENCY": "2"}
    with ThreadPoolExecutor(4) as pool:
        servers = list(pool.map(lambda name: server_process(tmp_path / name, **common),
                                ["data-a", "data-b", "data-c", "data-d"]))
    assert revisions_in(url) == [migrations.head()]
    assert differences_from_the_code(url) == []

    job_ids = []
    for number in range(12):
        response = requests.post(f"{servers[number % 4].url}/processes/count-run/execution",
                                 json={"inputs": {"ledger": str(ledger)}},
                                 headers={"Prefer": "respond-async"}, timeout=10)
        assert response.status_code == 201, response.text
        job_ids.append(response.json()["jobID"])
    deadline = time.monotonic() + 90
    for number, job_id in enumerate(job_ids):
        # Each server answers for every job: they share one job store.
        server = servers[(number + 1) % 4]
        while (status := requests.get(f"{server.url}/jobs/{job_id}", timeout=10)
               .json()["status"]) in ("accepted", "running"):
            assert time.monotonic() < deadline, "jobs did not finish"
            time.sleep(0.2)
        assert status == "successful"
    assert Counter(ledger.read_text().split()) == Counter({job_id: 1 for job_id in job_ids})
