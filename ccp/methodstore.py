"""Methods deployed through the API (OGC API - Processes Part 2), every version kept."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from ccp.jobstore import method_versions
from ccp.runtimes.base import now_iso


class MethodStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def current(self) -> dict[str, tuple[dict[str, Any], str | None, str | None]]:
        """Every deployed Method's current document, owner and context, by id."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(method_versions.c.method_id, method_versions.c.document,
                       method_versions.c.owner, method_versions.c.context)
                .where(method_versions.c.current.is_(True))).all()
        return {row.method_id: (json.loads(row.document), row.owner, row.context)
                for row in rows}

    def version(self, method_id: str, version: str
                ) -> tuple[dict[str, Any], str | None, str | None] | None:
        """One version's document, owner and context."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(method_versions.c.document, method_versions.c.owner,
                       method_versions.c.context).where(
                    method_versions.c.method_id == method_id,
                    method_versions.c.version == version)).first()
        return (json.loads(row.document), row.owner, row.context) if row else None

    def versions(self, method_id: str) -> list[tuple[str, dict[str, Any], str | None, str | None]]:
        """Every version of a Method, oldest first: version, document, owner, context."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(method_versions.c.version, method_versions.c.document,
                       method_versions.c.owner, method_versions.c.context)
                .where(method_versions.c.method_id == method_id)
                .order_by(method_versions.c.created)).all()
        return [(row.version, json.loads(row.document), row.owner, row.context) for row in rows]

    def count_owned(self, owner: str | None) -> int:
        """Versions of every Method `owner` deployed (what the method_versions quota counts)."""
        from sqlalchemy import func

        with self.engine.connect() as connection:
            return int(connection.scalar(
                select(func.count()).select_from(method_versions)
                .where(method_versions.c.owner == owner)) or 0)

    def put(self, method_id: str, version: str, document: dict[str, Any],
            owner: str | None, context: str | None = None) -> bool:
        """Make `version` the current one; False if that version exists with other content."""
        encoded = json.dumps(document, sort_keys=True)
        with self.engine.begin() as connection:
            existing = connection.scalar(
                select(method_versions.c.document).where(
                    method_versions.c.method_id == method_id,
                    method_versions.c.version == version))
            if existing is not None and json.loads(existing) != document:
                return False
            connection.execute(update(method_versions)
                               .where(method_versions.c.method_id == method_id)
                               .values(current=False))
            if existing is None:
                connection.execute(method_versions.insert().values(
                    method_id=method_id, version=version, document=encoded, owner=owner,
                    context=context, created=now_iso(), current=True))
            else:
                connection.execute(update(method_versions).where(
                    method_versions.c.method_id == method_id,
                    method_versions.c.version == version).values(current=True))
        return True

    def undeploy(self, method_id: str) -> bool:
        with self.engine.begin() as connection:
            return connection.execute(
                update(method_versions)
                .where(method_versions.c.method_id == method_id,
                       method_versions.c.current.is_(True))
                .values(current=False)).rowcount > 0
