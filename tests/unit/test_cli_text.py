"""Pure pieces of the `ccp` command: input parsing, safe terminal text, concise errors."""

from __future__ import annotations

import pytest

from ccp.cli.follow import printable
from ccp.cli.run import UsageError, parse_inputs
from ccp.logs import concise


def test_cli_inputs_are_json_or_text() -> None:
    assert parse_inputs(["seconds=3", "name=Ann", "flags=[1, 2]", "empty=", "eq=a=b"]) == {
        "seconds": 3, "name": "Ann", "flags": [1, 2], "empty": "", "eq": "a=b"}
    for bad in ("seconds", "=3"):
        with pytest.raises(UsageError, match="not name=value"):
            parse_inputs([bad])


def test_cli_printable_defuses_terminal_control_sequences() -> None:
    hostile = "tick\x1b]0;owned\x07 \x1b[2J\rdone\ttab"
    shown = printable(hostile)
    assert "\x1b" not in shown and "\x07" not in shown and "\r" not in shown
    assert shown.endswith("done\ttab") and "tick" in shown


def test_cli_concise_error_names_the_root_cause_in_one_line() -> None:
    try:
        try:
            try:
                raise FileNotFoundError(2, "No such file or directory")
            except OSError as err:
                raise ConnectionError("('Connection aborted.', FileNotFoundError(2))") from err
        except ConnectionError as err:
            raise RuntimeError(f"Docker engine at unix:///x.sock is unreachable: {err}") from err
    except RuntimeError as err:
        assert concise(err) == (
            "Docker engine at unix:///x.sock is unreachable: No such file or directory")
    assert concise(ValueError("first line\nsecond line")) == "first line"
    assert concise(ValueError("x" * 500), limit=50) == "x" * 49 + "…"
    assert concise(KeyError()) == "KeyError"


def test_cli_warns_before_sending_a_token_in_clear(caplog: pytest.LogCaptureFixture) -> None:
    from ccp.cli.client import HTTPTransport

    HTTPTransport("https://ccp.example.org", "t").close()
    HTTPTransport("http://127.0.0.1:5000", "t").close()
    HTTPTransport("http://ccp.example.org", None).close()
    assert not caplog.records  # no request is sent by any of these
    HTTPTransport("http://ccp.example.org/", "t").close()
    assert [r.getMessage() for r in caplog.records] == [
        "the token goes to http://ccp.example.org unencrypted: use https"]
