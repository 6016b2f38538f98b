"""Sandboxed Jinja2 rendering of lifecycle scripts, within limits.

Every `{{ expression }}` is shell-quoted on output (the environment's `finalize`), so an input
value always reaches the script as one literal word: `{{ x }}` can never inject a command.
Authors write `printf 'Hello, %s!' {{ name }}`, not `echo "Hello, {{ name }}"`.

A template is the Method author's code, and authors are not trusted either: Jinja2's sandbox
stops it reaching Python internals, but not `{{ 'A' * 10**9 }}`. So a template that only
substitutes and tests values (the common case, bounded by the size of its inputs) renders in
process, and any other one renders in a child process with a memory limit and a deadline.
Either way the output is capped. `check` finds what can be known without rendering (syntax,
unknown names, private attributes) for a 400 at deploy time.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

GLOBALS = ("range", "dict", "namespace")
IMPLICIT_NAMES = ("loop", "caller", "varargs", "kwargs")
# Filters whose output is at most a small multiple of their input: safe in process.
CHEAP_FILTERS = frozenset((
    "default", "d", "lower", "upper", "trim", "length", "count", "string", "int", "float",
    "abs", "round", "first", "last", "join", "capitalize", "title", "tojson", "list", "sort",
    "unique", "min", "max", "sum", "bool"))
CHEAP_NODES = (
    nodes.Template, nodes.Output, nodes.TemplateData, nodes.Name, nodes.Const, nodes.If,
    nodes.Not, nodes.And, nodes.Or, nodes.Compare, nodes.Operand, nodes.Test, nodes.CondExpr,
    nodes.Concat, nodes.Getattr, nodes.Getitem, nodes.List, nodes.Tuple, nodes.Dict,
    nodes.Pair, nodes.Neg, nodes.Pos, nodes.Add, nodes.Sub, nodes.Filter)


class RenderError(ValueError):
    """A script could not be rendered with the given inputs."""


class RenderRefused(RenderError):
    """Rendering broke a limit of this server or was stopped by the sandbox."""


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 1024 * 1024  # of each rendered script
    seconds: float = 5.0  # to render all scripts of one execution
    memory_bytes: int = 512 * 1024 * 1024  # address space of the rendering child


DEFAULT_LIMITS = Limits()


def shell_word(value: Any, top: bool = True) -> str:
    """One quoted shell word per value; a list gives one word per item, and an object (or a
    list inside a list) one word holding its JSON."""
    if value is None:
        return "''"
    if isinstance(value, bool):
        value = "true" if value else "false"
    if isinstance(value, list | tuple) and top:
        return " ".join(shell_word(item, top=False) for item in value)
    if isinstance(value, dict | list | tuple):
        return shlex.quote(json.dumps(value, ensure_ascii=False))
    return shlex.quote(str(value))


def _environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        finalize=shell_word,
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    # lipsum(n) and friends make text from nothing; scripts have no use for them.
    env.globals = {name: env.globals[name] for name in GLOBALS}
    return env


_ENV = _environment()


def syntax_error(script: str) -> str | None:
    """The template syntax problem of `script`, or None if it parses."""
    try:
        _ENV.parse(script)
    except TemplateSyntaxError as err:
        return f"line {err.lineno}: {err.message}"
    return None


def check(script: str, names: Iterable[str]) -> list[str]:
    """What is wrong with `script` as a template over inputs `names`, found without running it."""
    try:
        tree = _ENV.parse(script)
    except TemplateSyntaxError as err:
        return [f"line {err.lineno}: {err.message}"]
    problems = []
    unknown = sorted(_undeclared(tree) - set(names) - set(GLOBALS))
    if unknown:
        problems.append(f"unknown name(s) {', '.join(unknown)}: a template may use the "
                        "Method's inputs only")
    for access in tree.find_all((nodes.Getattr, nodes.Getitem)):
        attribute: object = None
        if isinstance(access, nodes.Getattr):
            attribute = access.attr
        elif isinstance(access, nodes.Getitem) and isinstance(access.arg, nodes.Const):
            attribute = access.arg.value
        if isinstance(attribute, str) and attribute.startswith("_"):
            problems.append(f"line {access.lineno}: '{attribute}' is a private attribute, which "
                            "the sandbox refuses")
    for load in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        problems.append(f"line {load.lineno}: a script cannot load other templates")
    return problems


def _undeclared(tree: nodes.Template) -> set[str]:
    """Names a template reads but never sets, from its syntax tree alone.

    Not `jinja2.meta.find_undeclared_variables`: that compiles the template, and compiling
    folds constants (`{{ 'A' * 10**9 }}`, `{{ 'A'|center(10**9) }}`) in this process.
    """
    loaded: set[str] = set()
    stored: set[str] = set(IMPLICIT_NAMES)
    for name in tree.find_all(nodes.Name):
        (loaded if name.ctx == "load" else stored).add(name.name)
    return loaded - stored


def is_cheap(script: str) -> bool:
    """True when rendering `script` costs at most a small multiple of its inputs' size."""
    try:
        tree = _ENV.parse(script)
    except TemplateSyntaxError:
        return True  # fails at once, in process
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, CHEAP_NODES):
            return False
        if isinstance(node, nodes.Filter) and node.name not in CHEAP_FILTERS:
            return False
    return True


def render(script: str, inputs: Mapping[str, Any], limits: Limits = DEFAULT_LIMITS) -> str:
    return render_all({"lifecycle": script}, inputs, limits)["lifecycle"]


def render_all(scripts: Mapping[str, str], inputs: Mapping[str, Any],
               limits: Limits = DEFAULT_LIMITS) -> dict[str, str]:
    """Render every script with `inputs`; RenderError on any problem or broken limit."""
    if all(is_cheap(script) for script in scripts.values()):
        return _render_here(dict(scripts), dict(inputs), limits.max_bytes)
    return _render_in_child(dict(scripts), dict(inputs), limits)


def _render_here(scripts: dict[str, str], inputs: dict[str, Any],
                 max_bytes: int) -> dict[str, str]:
    rendered = {}
    for name, script in scripts.items():
        try:
            chunks, size = [], 0
            for chunk in _ENV.from_string(script).generate(**inputs):
                size += len(chunk.encode("utf-8", "surrogatepass"))
                if size > max_bytes:
                    raise RenderRefused(f"the {name} script renders to more than {max_bytes} "
                                      "bytes (the limit of this server)")
                chunks.append(chunk)
        except RenderError:
            raise
        except TemplateSyntaxError as err:
            raise RenderError(f"line {err.lineno}: {err.message}") from err
        except SecurityError as err:
            raise RenderRefused(f"refused by the sandbox: {err}") from err
        except MemoryError as err:
            raise RenderRefused("rendering needed more memory than allowed") from err
        except RecursionError as err:
            raise RenderRefused("rendering recursed too deeply") from err
        except Exception as err:  # undefined names, type errors in expressions
            raise RenderError(str(err)) from err
        rendered[name] = "".join(chunks)
    return rendered


def _render_in_child(scripts: dict[str, str], inputs: dict[str, Any],
                     limits: Limits) -> dict[str, str]:
    """Render in a fresh interpreter with a memory limit, killed at the deadline."""
    request = json.dumps({"scripts": scripts, "inputs": inputs, "max_bytes": limits.max_bytes,
                          "memory_bytes": limits.memory_bytes, "seconds": limits.seconds})
    try:
        done = subprocess.run([sys.executable, "-m", "ccp.templating"], input=request.encode(),
                              capture_output=True, timeout=limits.seconds, check=False,
                              env={"PATH": os.defpath, **_python_path()})
    except subprocess.TimeoutExpired as err:
        raise RenderRefused(f"rendering took longer than {limits.seconds:g} s (the limit of "
                            "this server)") from err
    try:
        answer = json.loads(done.stdout)
    except ValueError as err:
        raise RenderRefused("rendering broke a limit of this server (memory or time)") from err
    if "error" in answer:
        raise (RenderRefused if answer.get("refused") else RenderError)(answer["error"])
    return answer["ok"]


def _python_path() -> dict[str, str]:
    """The child imports this very `ccp`, wherever it was imported from."""
    package_root = str(Path(__file__).resolve().parent.parent)
    return {"PYTHONPATH": os.pathsep.join(filter(None, [package_root,
                                                        os.environ.get("PYTHONPATH")]))}


def _child_main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    memory = int(request["memory_bytes"])
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = int(request["seconds"]) + 2  # a backstop: the parent's deadline comes first
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        answer: dict[str, Any] = {"ok": _render_here(request["scripts"], request["inputs"],
                                                     int(request["max_bytes"]))}
    except RenderError as err:
        answer = {"error": str(err), "refused": isinstance(err, RenderRefused)}
    except MemoryError:
        answer = {"error": "rendering needed more memory than allowed", "refused": True}
    sys.stdout.write(json.dumps(answer))


if __name__ == "__main__":
    _child_main()
