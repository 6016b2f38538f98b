"""Extracting a tar stream from a runtime: what is safe is copied, the rest is listed."""

from __future__ import annotations

import io
import stat
import tarfile
from pathlib import Path

from ccp.runtimes.tarcopy import extract


def tar_of(*members: tuple[tarfile.TarInfo, bytes | None]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, link, 0o644
    return info


def test_regular_files_and_inner_links_are_copied_the_rest_listed(tmp_path: Path) -> None:
    stream = tar_of(
        (entry("./a", tarfile.DIRTYPE), None),
        (entry("./a/file.txt"), b"content"),
        (entry("./inner", tarfile.SYMTYPE, "a/file.txt"), None),
        (entry("./absolute", tarfile.SYMTYPE, "/etc/passwd"), None),
        (entry("./escaping", tarfile.SYMTYPE, "../../etc/passwd"), None),
        (entry("./fifo", tarfile.FIFOTYPE), None),
        (entry("./device", tarfile.CHRTYPE), None),
        (entry("../outside.txt"), b"no"),
        (entry("/etc/evil"), b"no"),
    )
    target = tmp_path / "work" / "out"
    skipped = extract([stream[:1000], stream[1000:]], target)
    assert (target / "a" / "file.txt").read_bytes() == b"content"
    assert (target / "inner").resolve() == (target / "a" / "file.txt").resolve()
    left_out = " ".join(skipped)
    for name in ("absolute", "escaping", "fifo", "device", "outside.txt"):
        assert name in left_out, skipped
    found = {p.relative_to(target).as_posix() for p in target.rglob("*")}
    assert found <= {"a", "a/file.txt", "inner", "etc", "etc/evil"}  # absolute: made relative
    assert not (tmp_path / "outside.txt").exists()
    for path in target.rglob("*"):
        mode = path.lstat().st_mode
        assert stat.S_ISREG(mode) or stat.S_ISDIR(mode) or stat.S_ISLNK(mode)
    assert [p.name for p in (tmp_path / "work").iterdir()] == ["out"]  # the spool is gone


def test_an_empty_stream_copies_nothing(tmp_path: Path) -> None:
    assert extract([], tmp_path / "out") == []
    assert list((tmp_path / "out").iterdir()) == []
