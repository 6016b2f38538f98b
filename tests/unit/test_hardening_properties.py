"""Property-based tests (Hypothesis) of the two gates every user value passes: strict JSON
parsing and template rendering, plus input validation between them."""

from __future__ import annotations

import json
import math
import shlex
import subprocess
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ccp import safejson, templating
from ccp.inputs import InputError, resolve_inputs
from ccp.model import Infrastructure, Method

LOCAL = Infrastructure.from_dict({"id": "local", "name": "l", "type": "local"})
SLEEP_LIKE = Method.from_dict({
    "id": "m", "title": "m", "version": "1.0.0",
    "inputs": {
        "n": {"schema": {"type": "integer", "minimum": 0, "maximum": 100}, "minOccurs": 0},
        "x": {"schema": {"type": "number"}, "minOccurs": 0},
        "s": {"schema": {"type": "string", "maxLength": 50}, "minOccurs": 0},
        "e": {"schema": {"type": "string", "enum": ["a", "b"]}, "minOccurs": 0},
        "ccpimage": {"schema": {"type": "string", "default": "img"}, "minOccurs": 0},
    },
    "additionalParameters": {"parameters": [{"name": "execute-script",
                                             "value": ["echo {{ s }} {{ n }}"]}]},
    "links": [{"rel": "compatibleWith", "href": "infrastructures/local"}],
})

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
no_nul_text = st.text().filter(lambda text: "\0" not in text)


@given(st.text())
@settings(max_examples=300)
def test_hardening_any_string_renders_as_one_shell_word(value: str) -> None:
    rendered = templating.render("printf %s {{ v }}", {"v": value})
    if "\0" not in value:  # shlex (like sh) cannot carry NUL; the API refuses it earlier
        assert shlex.split(rendered) == ["printf", "%s", value]


@given(no_nul_text.filter(lambda text: text.isprintable()))
@settings(max_examples=40, deadline=None)
def test_hardening_the_real_shell_prints_the_value_back(value: str) -> None:
    script = templating.render("printf %s {{ v }}", {"v": value})
    done = subprocess.run(["/bin/sh", "-c", script], capture_output=True, timeout=10)
    assert done.stdout.decode("utf-8", "surrogateescape") == value


@given(json_values)
@settings(max_examples=300)
def test_hardening_strict_json_accepts_only_what_it_can_keep(value: Any) -> None:
    try:
        text = json.dumps(value, allow_nan=True)
    except ValueError:
        return
    try:
        parsed = safejson.loads(text)
    except safejson.JSONRejected:
        assert not _keepable(value)
        return
    assert _keepable(value)
    assert safejson.dumps_canonical(parsed) == safejson.dumps_canonical(value)


def _keepable(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, bool) or value is None:
        return True
    if isinstance(value, int):
        return abs(value) <= safejson.INT_BOUND
    if isinstance(value, str):
        return "\0" not in value
    if isinstance(value, list):
        return all(_keepable(item) for item in value)
    return all("\0" not in key and _keepable(item) for key, item in value.items())


@given(st.integers(min_value=1, max_value=3000))
@settings(max_examples=30)
def test_hardening_nesting_beyond_the_limit_is_refused(depth: int) -> None:
    text = "[" * depth + "]" * depth
    try:
        safejson.loads(text, safejson.JSONLimits(max_depth=64))
    except safejson.JSONRejected:
        assert depth > 64
    else:
        assert depth <= 64


@given(st.dictionaries(st.sampled_from(["n", "x", "s", "e", "zz", "ccpmaxtime"]), json_values,
                       max_size=5))
@settings(max_examples=400)
def test_hardening_input_validation_only_ever_raises_input_error(inputs: dict) -> None:
    try:
        resolved = resolve_inputs(SLEEP_LIKE, inputs, LOCAL)
    except InputError:
        return
    assert 0 < resolved["ccpmaxtime"] <= LOCAL.max_time
    assert math.isfinite(resolved["ccpmaxtime"])
    if resolved["n"] is not None:  # left out: None
        assert isinstance(resolved["n"], int) and 0 <= resolved["n"] <= 100
    templating.render_all(SLEEP_LIKE.scripts, resolved)
