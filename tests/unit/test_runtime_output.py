"""The one line splitter and the one log-sink policy of every runtime."""

from __future__ import annotations

import logging

import pytest

from ccp.runtimes.output import MAX_LINE_BYTES, LineSplitter, guarded, splitters


def split(*chunks: bytes) -> list[str]:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    for chunk in chunks:
        splitter.feed(chunk)
    splitter.close()
    return lines


def test_lines_across_chunks() -> None:
    assert split(b"a\nb", b"c\n", b"\nd") == ["a", "bc", "", "d"]
    assert split(b"partial ", b"line\n") == ["partial line"]
    assert split(b"no newline at the end") == ["no newline at the end"]
    assert split(b"") == []
    assert split(b"crlf\r\n", b"bare\rcr\n") == ["crlf", "bare\rcr"]


def test_a_partial_line_waits_until_close() -> None:
    lines: list[str] = []
    splitter = LineSplitter(lines.append)
    splitter.feed(b"first\nsecond")
    assert lines == ["first"]
    splitter.close()
    assert lines == ["first", "second"]


def test_long_lines_come_in_pieces_of_the_cap() -> None:
    lines = split(b"a" * (2 * MAX_LINE_BYTES + 10) + b"\nshort\n")
    assert [len(line) for line in lines] == [MAX_LINE_BYTES, MAX_LINE_BYTES, 10, 5]
    assert split(b"b" * MAX_LINE_BYTES + b"\n") == ["b" * MAX_LINE_BYTES]  # no empty piece
    fed_slowly = split(*([b"c" * 1000] * 200))
    assert [len(line) for line in fed_slowly] == [MAX_LINE_BYTES] * 3 + [200000 - 3 * 65536]


def test_pieces_are_cut_between_characters() -> None:
    text = ("é" * MAX_LINE_BYTES).encode()  # two bytes each
    lines = split(text)
    assert "".join(lines) == "é" * MAX_LINE_BYTES
    assert all(len(line.encode()) <= MAX_LINE_BYTES for line in lines)


def test_undecodable_bytes_are_replaced() -> None:
    assert split(b"ok \xff\xfe\n") == ["ok \ufffd\ufffd"]


def test_splitters_tag_replica_and_stream() -> None:
    seen: list[tuple[int, str, str]] = []
    pair = splitters(lambda replica, stream, line: seen.append((replica, stream, line)), 3)
    pair["stdout"].feed(b"out\n")
    pair["stderr"].feed(b"err\n")
    assert seen == [(3, "stdout", "out"), (3, "stderr", "err")]


def test_a_failing_sink_is_logged_once_and_never_raises(caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    calls: list[str] = []

    def broken(replica: int, stream: str, line: str) -> None:
        calls.append(line)
        raise OSError("disk full")

    sink = guarded(broken, "execution x")
    with caplog.at_level(logging.ERROR, logger="ccp.runtimes.output"):
        for number in range(5):
            sink(1, "stdout", str(number))
    assert calls == ["0", "1", "2", "3", "4"]  # every line is still offered
    (record,) = caplog.records
    assert "execution x" in record.getMessage() and record.exc_info is not None


def test_a_working_sink_is_untouched() -> None:
    seen: list[tuple[int, str, str]] = []
    guarded(lambda *line: seen.append(line), "x")(2, "stderr", "hello")
    assert seen == [(2, "stderr", "hello")]
