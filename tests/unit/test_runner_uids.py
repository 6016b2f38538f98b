"""Runner uids of the local runtime: leases, reclaiming a dead server's, checking a range."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ccp.runtimes.base import RuntimeFailure
from ccp.runtimes.runners import RunnerUids, check_range

FIRST = 1_900_000_000


def test_each_execution_gets_its_own_uid_until_the_range_is_used_up(tmp_path: Path) -> None:
    uids = RunnerUids(FIRST, FIRST + 1, tmp_path / "leases")
    first = uids.lease("job-a", tmp_path / "a")
    second = uids.lease("job-b", tmp_path / "b")
    assert {first, second} == {FIRST, FIRST + 1}
    with pytest.raises(RuntimeFailure, match="all 2 runner uids"):
        uids.lease("job-c", tmp_path / "c")
    assert {(lease.uid, lease.execution_id) for lease in uids.leases()} == {
        (first, "job-a"), (second, "job-b")}
    assert (tmp_path / "leases").stat().st_mode & 0o777 == 0o700

    uids.release(first, "job-b")  # not its uid: nothing happens
    assert len(uids.leases()) == 2
    uids.release(first, "job-a")
    assert uids.lease("job-c", tmp_path / "c") == first


def test_a_lease_of_a_server_that_is_gone_is_reclaimed(tmp_path: Path) -> None:
    uids = RunnerUids(FIRST, FIRST, tmp_path / "leases")
    uids.lease("job-a", tmp_path / "a")
    (tmp_path / "a").mkdir()
    lease_file = tmp_path / "leases" / str(FIRST)
    data = json.loads(lease_file.read_text())
    lease_file.write_text(json.dumps({**data, "started": "0"}))  # another process, same pid
    assert uids.lease("job-b", tmp_path / "b") == FIRST
    assert uids.read(FIRST).execution_id == "job-b"
    assert not (tmp_path / "a").exists()  # the dead execution's work dir went with it


def test_a_lease_dir_someone_else_made_is_refused(tmp_path: Path) -> None:
    leases = tmp_path / "leases"
    leases.mkdir(mode=0o777)
    leases.chmod(0o777)
    with pytest.raises(RuntimeFailure, match="mode 0700"):
        RunnerUids(FIRST, FIRST, leases).lease("job-a", tmp_path / "a")


def test_a_range_must_not_hold_accounts_or_subordinate_ids(tmp_path: Path) -> None:
    subuid = tmp_path / "subuid"
    subuid.write_text("root:100000:65536\n")
    files = (str(subuid), str(tmp_path / "missing"))
    assert check_range(FIRST, FIRST + 999, files) is None
    assert "overlap the subordinate ids 100000-165535 of 'root'" in check_range(
        150000, 200000, files)
    own = os.getuid()
    assert f"include uid {own}" in check_range(own, own, files)
