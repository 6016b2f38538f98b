"""Client code stubs: a runnable Python, R, Julia or Jupyter file that submits an Execution.

`render_stub(lang, base_url, process_id, inputs)` returns (content, mimetype, filename). The
stub reads CCP_TOKEN from the environment, POSTs the same execution request, polls the job,
prints its results and streams the Execution archive to `ccp-<jobid>.zip`.

Process ids, titles and input values are user data. None of them ever reaches a template raw:
this module turns each into a string literal of the target language with an escaper (below,
each unit-tested with hostile strings) or, for titles, into one harmless comment line, and the
templates receive only those finished fragments. The inputs travel as JSON text in a string
literal and are parsed at run time by the language's own JSON library, so no input value is
ever code.
"""

from __future__ import annotations

import html
import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

TEMPLATES = Path(__file__).resolve().parent / "templates"

# lang -> (mimetype, file suffix)
LANGUAGES: dict[str, tuple[str, str]] = {
    "python": ("text/x-python", "py"),
    "r": ("text/x-r", "R"),
    "julia": ("text/x-julia", "jl"),
    "ipynb": ("application/x-ipynb+json", "ipynb"),
}

_TEMPLATE_OF = {"python": "python.py.j2", "r": "r.R.j2", "julia": "julia.jl.j2"}
_COMMENT_MAX = 160
# What a stub may offer on the submitted job, when its Infrastructure's manifest does.
JOB_CONTROL = ("suspend", "resume", "extend")
_EXAMPLES = {"python": {"suspend": "suspend()", "resume": "resume()", "extend": "extend(600)"},
             "r": {"suspend": "suspend()", "resume": "resume()", "extend": "extend(600)"},
             "julia": {"suspend": "suspend()", "resume": "resume()", "extend": "extend(600)"}}
NOTEBOOK_CELL_MARKER = "# %% "  # the Python stub's step markers (the "percent" cell format)


# --- escapers: text -> a literal of the target language that evaluates to exactly that text ----

def python_string(text: str) -> str:
    """A Python string literal. `repr` is Python's own escaper: it escapes the quote it picks,
    backslashes and every non-printable character (controls, line and paragraph separators,
    bidirectional overrides, lone surrogates), so the literal is one line of printable text."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    return repr(text)


def _unicode_escape(char: str, short: str, long: str) -> str:
    code = ord(char)
    return short.format(code) if code <= 0xFFFF else long.format(code)


def _check_representable(text: str, language: str, nul: bool) -> None:
    for char in text:
        if 0xD800 <= ord(char) <= 0xDFFF:
            raise ValueError(f"a lone surrogate (U+{ord(char):04X}) cannot be a {language} "
                             "string")
        if char == "\0" and not nul:
            raise ValueError(f"a NUL character cannot be part of a {language} string")


_R_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def r_string(text: str) -> str:
    """An R string literal, quoted like Python's repr: double quotes unless the text holds `"`
    and no `'` (JSON lines stay readable). Escapes backslash, the quote, \\n \\r \\t; every
    other non-printable or non-ASCII character becomes \\u{XXXX} / \\U{XXXXXXXX}, so the
    literal is plain ASCII whatever the locale R runs in. R strings cannot hold NUL."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    _check_representable(text, "R", nul=False)
    quote = "'" if '"' in text and "'" not in text else '"'
    out = []
    for char in text:
        if char in _R_ESCAPES:
            out.append(_R_ESCAPES[char])
        elif char == quote:
            out.append("\\" + char)
        elif " " <= char <= "~":
            out.append(char)
        else:
            out.append(_unicode_escape(char, "\\u{{{:04X}}}", "\\U{{{:08X}}}"))
    return quote + "".join(out) + quote


_JULIA_ESCAPES = {"\\": "\\\\", '"': '\\"', "$": "\\$", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def julia_string(text: str) -> str:
    """A Julia string literal: double quotes, with backslash, `"` and `$` (interpolation!)
    escaped, \\n \\r \\t, and every other non-printable character as \\uXXXX (exactly four
    hex digits, so a following hex digit is never swallowed) or \\UXXXXXXXX (eight)."""
    if not isinstance(text, str):
        raise TypeError(f"expected str, got {type(text).__name__}")
    _check_representable(text, "Julia", nul=True)
    out = []
    for char in text:
        if char in _JULIA_ESCAPES:
            out.append(_JULIA_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        else:
            out.append(_unicode_escape(char, "\\u{:04X}", "\\U{:08X}"))
    return '"' + "".join(out) + '"'


ESCAPERS = {"python": python_string, "r": r_string, "julia": julia_string}


def comment_text(text: str) -> str:
    """Text made safe for one `#` comment line in Python, R or Julia: every non-printable
    character (newlines, carriage returns, separators, bidi controls) becomes a space, so
    nothing can end the comment; runs of spaces collapse; long text is cut."""
    text = "".join(char if char.isprintable() else " " for char in str(text))
    text = " ".join(text.split())
    return text if len(text) <= _COMMENT_MAX else text[:_COMMENT_MAX - 3] + "..."


def markdown_text(text: str) -> str:
    """One line of plain text for a Markdown cell: comment-safe, HTML-escaped, and with
    Markdown punctuation backslash-escaped, so it renders as the literal text."""
    text = re.sub(r"([\\`*_{}\[\]()#+\-.!|~])", r"\\\1", comment_text(text))
    return html.escape(text, quote=True)


def inputs_json_lines(inputs: dict[str, Any] | None) -> list[str]:
    """The inputs as indented JSON, one list item per line. Strings keep readable non-ASCII
    text, but every non-printable character is written as a JSON \\u escape, so a line only
    ever holds printable characters."""
    if inputs is None:
        inputs = {}
    if not isinstance(inputs, dict):
        raise ValueError(f"inputs must be a JSON object, got {type(inputs).__name__}")
    try:
        text = json.dumps(inputs, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as err:  # NaN or Infinity: not JSON, other languages reject them
        raise ValueError(f"the inputs cannot be written as JSON: {err}") from err
    return [_json_escape_nonprintable(line) for line in text.split("\n")]


def _json_escape_nonprintable(line: str) -> str:
    out = []
    for char in line:
        code = ord(char)
        if char.isprintable():
            out.append(char)
        elif code > 0xFFFF:  # a JSON \u escape holds 16 bits: write a surrogate pair
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out)


# --- rendering ---------------------------------------------------------------------------------

@cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def stub_filename(process_id: str, suffix: str) -> str:
    """A filename built only from [A-Za-z0-9._-], safe in a Content-Disposition header."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", process_id).strip("._")[:100] or "ccp-stub"
    return f"{stem}.{suffix}"


def _context(lang: str, base_url: str, process_id: str, inputs: dict[str, Any] | None,
             title: str, job_control: tuple[str, ...] = ()) -> dict[str, Any]:
    """Everything a template may print: literals made by the language's escaper and
    comment-safe text. Nothing in here is raw user data."""
    literal = ESCAPERS[lang]
    unknown = sorted(set(job_control) - set(JOB_CONTROL))
    if unknown:
        raise ValueError(f"unknown job control {unknown}: choose from {', '.join(JOB_CONTROL)}")
    return {
        "job_control": tuple(job_control),
        "job_control_example": "; ".join(_EXAMPLES[lang][name] for name in JOB_CONTROL
                                         if name in job_control),
        "url_literal": literal(base_url.rstrip("/")),
        "process_id_literal": literal(process_id),
        "inputs_lines": [literal(line) for line in inputs_json_lines(inputs)],
        "title_comment": comment_text(title or process_id),
        "process_id_comment": comment_text(process_id),
        "filename": stub_filename(process_id, LANGUAGES[lang][1]),
    }


def render_stub(lang: str, base_url: str, process_id: str, inputs: dict,
                title: str = "", job_control: tuple[str, ...] = ()) -> tuple[str, str, str]:
    """Return (content, mimetype, filename) of a runnable stub that submits the same execution.

    `lang` is a key of LANGUAGES; anything else, or inputs that cannot be JSON, raise
    ValueError. `job_control` (names of JOB_CONTROL) adds functions for what the Method's
    Infrastructure offers on a running job, and nothing it does not.
    """
    if lang not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    mimetype, suffix = LANGUAGES[lang]
    filename = stub_filename(process_id, suffix)
    if lang == "ipynb":
        content = _notebook(base_url, process_id, inputs, title, job_control)
    else:
        template = environment().get_template(_TEMPLATE_OF[lang])
        content = template.render(**_context(lang, base_url, process_id, inputs, title,
                                             job_control))
    return content, mimetype, filename


# --- the notebook: the Python stub, one cell per step ------------------------------------------

def _source(text: str) -> list[str]:
    """nbformat's multi-line string: a list of lines, each but the last ending in newline."""
    lines = text.strip("\n").split("\n")
    return [line + "\n" for line in lines[:-1]] + lines[-1:]


def python_steps(python_stub: str) -> list[tuple[str, str]]:
    """Split the Python stub at its `# %% <title>` markers into (title, code) steps; the header
    comment before the first marker is dropped (the notebook has its own introduction)."""
    steps: list[tuple[str, str]] = []
    for line in python_stub.split("\n"):
        if line.startswith(NOTEBOOK_CELL_MARKER):
            steps.append((line[len(NOTEBOOK_CELL_MARKER):].strip(), ""))
        elif steps:
            title, code = steps[-1]
            steps[-1] = (title, code + line + "\n")
    return steps


def _notebook(base_url: str, process_id: str, inputs: dict[str, Any] | None,
              title: str, job_control: tuple[str, ...] = ()) -> str:
    python_stub, _, _ = render_stub("python", base_url, process_id, inputs or {}, title,
                                    job_control)
    name = markdown_text(title or process_id)
    intro = (
        f"# Run {name} on CCP\n"
        "\n"
        f"Submits one execution of the Method *{markdown_text(process_id)}* to the CCP server, "
        "waits for it to finish, shows its results and downloads the whole Execution archive "
        "(`ccp-<job id>.zip`: the request, the Method, the logs, the outputs and a PROV "
        "record) next to this notebook.\n"
        "\n"
        "Needs the `requests` package (`pip install requests`). If the server asks for a "
        "login, set the environment variable `CCP_TOKEN` to your bearer token before "
        "starting Jupyter. Run the cells from top to bottom; edit `INPUTS_JSON` to try other "
        "inputs."
    )
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "id": "ccp-intro", "metadata": {}, "source": _source(intro)},
    ]
    for number, (step, code) in enumerate(python_steps(python_stub), start=1):
        cells.append({"cell_type": "markdown", "id": f"ccp-step-{number}", "metadata": {},
                      "source": _source(f"## {number}. {markdown_text(step)}")})
        cells.append({"cell_type": "code", "execution_count": None,
                      "id": f"ccp-code-{number}", "metadata": {}, "outputs": [],
                      "source": _source(code)})
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python",
                           "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
