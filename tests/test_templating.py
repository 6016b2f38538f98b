"""Inputs can never inject commands into lifecycle scripts."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from ccp import templating
from ccp.model import Infrastructure
from ccp.runtimes.local import LocalRuntime

HOSTILE = [
    'x"; touch /tmp/ccp-pwned; echo "',
    "$(touch /tmp/ccp-pwned)",
    "`touch /tmp/ccp-pwned`",
    "'; touch /tmp/ccp-pwned; '",
    "a\nb; touch /tmp/ccp-pwned",
    "{{ 7*7 }}",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_input_reaches_the_script_literally(value: str, tmp_path: Path) -> None:
    Path("/tmp/ccp-pwned").unlink(missing_ok=True)
    script = templating.render("printf '%s' {{ value }} > /ccp_data/out.txt", {"value": value})
    runtime = LocalRuntime(Infrastructure.from_dict({"id": "l", "name": "l", "type": "local"}))
    execution_id = f"job-{uuid.uuid4()}"
    instance = runtime.launch(execution_id, "none", {"ccptaskname": execution_id})
    try:
        assert runtime.run(instance, script, 10, lambda *line: None) == 0
        runtime.fetch(instance, tmp_path / "out")
    finally:
        runtime.destroy(instance)
    assert (tmp_path / "out" / "out.txt").read_text() == value
    assert not Path("/tmp/ccp-pwned").exists()


def test_sandbox_blocks_python_internals() -> None:
    with pytest.raises(templating.RenderError):
        templating.render("{{ ''.__class__.__mro__[1].__subclasses__() }}", {})


def test_undefined_variable_is_an_error() -> None:
    with pytest.raises(templating.RenderError):
        templating.render("echo {{ nope }}", {})


def test_lists_and_booleans_become_quoted_words() -> None:
    assert templating.render("x {{ v }}", {"v": ["a b", "c"]}) == "x 'a b' c"
    assert templating.render("x {{ v }}", {"v": True}) == "x true"
