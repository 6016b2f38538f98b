"""The local runtime's work root: the server's own, not listable, reachable by the runners."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ccp.runtimes.base import RuntimeFailure
from ccp.runtimes.local import prepare_work_root


def test_the_work_root_is_made_traversable_but_not_listable(tmp_path: Path) -> None:
    root = prepare_work_root(tmp_path / "a" / "work", for_runners=False)
    assert root.stat().st_mode & 0o777 == 0o711
    root.chmod(0o755)  # as an older CCP made it
    prepare_work_root(root, for_runners=False)
    assert root.stat().st_mode & 0o777 == 0o711


def test_runners_must_be_able_to_reach_it(tmp_path: Path) -> None:
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    with pytest.raises(RuntimeFailure, match=f"{closed} is closed to other users"):
        prepare_work_root(closed / "work", for_runners=True)


def test_a_root_of_someone_else_is_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    os.chown(foreign, 65534, 65534)
    with pytest.raises(RuntimeFailure, match="must be a directory of the server's user"):
        prepare_work_root(foreign, for_runners=False)
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    with pytest.raises(RuntimeFailure, match="must be a directory of the server's user"):
        prepare_work_root(link, for_runners=False)
