"""Sandboxed Jinja2 rendering of lifecycle scripts.

Every `{{ expression }}` is shell-quoted on output (the environment's `finalize`), so an input
value always reaches the script as one literal word: `{{ x }}` can never inject a command.
Authors write `printf 'Hello, %s!' {{ name }}`, not `echo "Hello, {{ name }}"`.
"""

from __future__ import annotations

import shlex
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment


class RenderError(ValueError):
    """A script could not be rendered with the given inputs."""


def shell_word(value: Any) -> str:
    if value is None:
        return "''"
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, (list, tuple)):
        return " ".join(shell_word(item) for item in value)
    return shlex.quote(str(value))


def _environment() -> ImmutableSandboxedEnvironment:
    return ImmutableSandboxedEnvironment(
        finalize=shell_word,
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


_ENV = _environment()


def syntax_error(script: str) -> str | None:
    """The template syntax problem of `script`, or None if it parses."""
    try:
        _ENV.parse(script)
    except TemplateSyntaxError as err:
        return f"line {err.lineno}: {err.message}"
    return None


def render(script: str, inputs: dict[str, Any]) -> str:
    try:
        return _ENV.from_string(script).render(**inputs)
    except TemplateSyntaxError as err:
        raise RenderError(f"line {err.lineno}: {err.message}") from err
    except Exception as err:  # undefined names, sandbox violations
        raise RenderError(str(err)) from err
