"""Generated client stubs: they run, they keep user data literal, and they stay as reviewed.

Set CCP_UPDATE_GOLDEN=1 to rewrite tests/golden/ after an intended template change (then read
the diff).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ccp.codegen import (
    LANGUAGES,
    comment_text,
    inputs_json_lines,
    julia_string,
    markdown_text,
    python_steps,
    python_string,
    r_string,
    render_stub,
    stub_filename,
)

GOLDEN = Path(__file__).resolve().parent / "golden"
PWNED = Path("/tmp/ccp-stub-pwned")

GOLDEN_ARGS = ("http://localhost:5000", "hello-world", {"name": "Ada"}, "Hello World")

# Strings that break naive quoting in at least one of Python, R, Julia, shell or JSON.
NASTY = [
    "",
    "plain",
    'x"; touch /tmp/ccp-stub-pwned; echo "',
    '"; system("touch /tmp/ccp-stub-pwned"); "',
    "'); system('touch /tmp/ccp-stub-pwned'); ('",
    '"""',
    "'''",
    '"""; import os; os.system("touch /tmp/ccp-stub-pwned"); """',
    "$(touch /tmp/ccp-stub-pwned)",
    "`touch /tmp/ccp-stub-pwned`",
    "$x ${x} $(x) \\$(x) $",
    '$(run(`touch /tmp/ccp-stub-pwned`))',
    "\\",
    "\\\\",
    '\\"',
    "\\n",
    "\\u0041\\U00000041\\x41\\101",
    "line one\nline two",
    "carriage\rreturn\r\n",
    "tab\there",
    "nul\0byte",
    "bell\a backspace\b formfeed\f vtab\v esc\x1b del\x7f",
    "unicode line\u2028para\u2029next\x85",
    "bidi \u202egnp.exe\u202c and \u2066isolate\u2069",
    "zero\u200bwidth\ufeffbom",
    "accents: Zoë, café, Ångström, 東京",
    "emoji 😀 and astral \U0001d11e",
    "\u00a0non-breaking space",
    "hex after escape: \x01F \x1b1234 \u202eABCD",
    "#= julia block =# # comment",
    "# %% fake cell",
    "-*- coding: utf-7 -*- +AAo-import os",
    "{{ jinja }} {% raw %}",
    "</script><script>alert(1)</script>",
]


def read_golden(name: str, content: str) -> str:
    path = GOLDEN / name
    if os.environ.get("CCP_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return path.read_text(encoding="utf-8")


def rscript() -> str:
    path = shutil.which("Rscript")
    if path is None:
        pytest.fail("Rscript is not installed: install the Debian package r-base-core "
                    "(scripts/install-system-packages.sh installs it)")
    return path


def run_r(expression: str, *args: str) -> subprocess.CompletedProcess:
    """Rscript -e EXPRESSION, with file paths passed as arguments (never pasted into code)."""
    return subprocess.run([rscript(), "--vanilla", "-e", expression, *args],
                          capture_output=True, text=True, timeout=60)


# --- the API of the module ---------------------------------------------------------------------

def test_languages() -> None:
    assert set(LANGUAGES) == {"python", "r", "julia", "ipynb"}
    for lang, (mimetype, suffix) in LANGUAGES.items():
        content, got_mimetype, filename = render_stub(lang, *GOLDEN_ARGS)
        assert got_mimetype == mimetype
        assert filename == f"hello-world.{suffix}"
        assert content.endswith("\n")


@pytest.mark.parametrize("lang", ["", "Python", "java", "../python", "python.py.j2"])
def test_unknown_language_is_a_value_error(lang: str) -> None:
    with pytest.raises(ValueError, match="unknown language"):
        render_stub(lang, "http://localhost:5000", "hello-world", {})


def test_inputs_that_are_not_json_are_a_value_error() -> None:
    with pytest.raises(ValueError, match="JSON"):
        render_stub("python", "http://localhost:5000", "p", {"x": float("nan")})
    with pytest.raises(ValueError, match="JSON object"):
        render_stub("python", "http://localhost:5000", "p", ["not", "a", "dict"])  # type: ignore


def test_no_inputs_means_an_empty_object() -> None:
    assert inputs_json_lines(None) == inputs_json_lines({}) == ["{}"]


def test_filenames_are_header_safe() -> None:
    assert stub_filename("hello-world", "py") == "hello-world.py"
    assert stub_filename("../../etc/passwd", "R") == "etc_passwd.R"
    assert stub_filename('a"b\r\nContent-Type: x', "jl") == "a_b_Content-Type_x.jl"
    assert stub_filename("東京", "ipynb") == "ccp-stub.ipynb"
    assert stub_filename("...", "py") == "ccp-stub.py"


# --- golden files: the reviewed output of every template ----------------------------------------

@pytest.mark.parametrize("lang", sorted(LANGUAGES))
def test_golden(lang: str) -> None:
    content, _, filename = render_stub(lang, *GOLDEN_ARGS)
    assert content == read_golden(filename, content)


# --- escapers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", NASTY)
def test_python_string_round_trips(text: str) -> None:
    literal = python_string(text)
    assert ast.literal_eval(literal) == text
    assert literal.isprintable()  # one line, no control or bidi characters


def julia_decode(literal: str) -> str:
    """Decode a Julia string literal by Julia's rules, failing on anything our escaper must
    never emit: an unescaped `"` or `$`, a raw control character, an unknown escape."""
    assert literal.startswith('"') and literal.endswith('"') and len(literal) >= 2, literal
    body, out, i = literal[1:-1], [], 0
    simple = {"\\": "\\", '"': '"', "$": "$", "n": "\n", "r": "\r", "t": "\t"}
    while i < len(body):
        char = body[i]
        assert char not in '"$', f"unescaped {char!r} in {literal!r}"
        assert char.isprintable(), f"raw {char!r} in {literal!r}"
        if char != "\\":
            out.append(char)
            i += 1
            continue
        escape = body[i + 1]
        if escape in simple:
            out.append(simple[escape])
            i += 2
        elif escape in "uU":  # Julia reads up to 4 (u) or 8 (U) hex digits, greedily
            limit = 4 if escape == "u" else 8
            digits = re.match(f"[0-9A-Fa-f]{{1,{limit}}}", body[i + 2:]).group()
            out.append(chr(int(digits, 16)))
            i += 2 + len(digits)
        else:
            raise AssertionError(f"unexpected escape \\{escape} in {literal!r}")
    return "".join(out)


@pytest.mark.parametrize("text", NASTY)
def test_julia_string_round_trips(text: str) -> None:
    assert julia_decode(julia_string(text)) == text


def test_julia_string_examples() -> None:
    assert julia_string("") == '""'
    assert julia_string("$(x)") == '"\\$(x)"'
    assert julia_string("$x") == '"\\$x"'
    assert julia_string('a"b\\c') == '"a\\"b\\\\c"'
    assert julia_string("\n\r\t") == '"\\n\\r\\t"'
    assert julia_string("\0") == '"\\u0000"'
    # a fixed-width escape: the "F" after \x01 is not read as part of the escape
    assert julia_string("\x01F") == '"\\u0001F"'
    assert julia_string("\u202e") == '"\\u202E"'
    assert julia_string("\U000e0001") == '"\\U000E0001"'
    assert julia_string("Zoë 😀") == '"Zoë 😀"'
    assert julia_string("#= x =#") == '"#= x =#"'


def test_r_string_examples() -> None:
    assert r_string("") == '""'
    assert r_string("plain") == '"plain"'
    assert r_string('say "hi"') == "'say \"hi\"'"
    assert r_string("it's") == '"it\'s"'
    assert r_string("both \" and '") == '"both \\" and \'"'
    assert r_string("a\\b") == '"a\\\\b"'
    assert r_string("\n\r\t") == '"\\n\\r\\t"'
    assert r_string("Zoë") == '"Zo\\u{00EB}"'
    assert r_string("😀") == '"\\U{0001F600}"'
    assert r_string("\x01F") == '"\\u{0001}F"'
    assert r_string("`x` $x") == '"`x` $x"'


@pytest.mark.parametrize("text", NASTY)
def test_r_string_is_ascii_and_one_line(text: str) -> None:
    if "\0" in text:
        with pytest.raises(ValueError, match="NUL"):
            r_string(text)
        return
    literal = r_string(text)
    assert literal.isascii() and literal.isprintable()


@pytest.mark.parametrize("escaper", [r_string, julia_string])
def test_lone_surrogates_are_refused(escaper: Any) -> None:
    with pytest.raises(ValueError, match="surrogate"):
        escaper("\ud800")


def test_r_strings_round_trip_in_r(tmp_path: Path) -> None:
    """R itself reads every escaped string back as exactly the original text."""
    texts = [text for text in NASTY if "\0" not in text]
    script = tmp_path / "strings.R"
    script.write_text("texts <- c(\n" + ",\n".join(r_string(t) for t in texts) + "\n)\n",
                      encoding="ascii")
    result = run_r(
        "args <- commandArgs(trailingOnly = TRUE); source(args[1]);"
        "for (t in texts) cat(paste(as.character(charToRaw(enc2utf8(t))), collapse = ''),"
        " '\\n', sep = '')", str(script))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [text.encode().hex() for text in texts]


def test_inputs_json_lines_are_printable_json() -> None:
    inputs = {"a": "x\u202ey\u2028z\x7f", "b": "😀\U000e0001", "c": [1, 2.5, None, True],
              "d": {}, "e": "é"}
    lines = inputs_json_lines(inputs)
    assert all(line.isprintable() for line in lines)
    assert json.loads("\n".join(lines)) == inputs
    assert '"e": "é"' in "\n".join(lines)  # readable text stays readable


def test_comment_text_is_one_harmless_line() -> None:
    for text in NASTY:
        comment = comment_text(text)
        assert comment.isprintable() and len(comment.splitlines()) <= 1
    assert comment_text("a\nimport os\r\nb") == "a import os b"
    assert len(comment_text("x" * 1000)) == 160


def test_markdown_text_is_literal() -> None:
    assert markdown_text("<img src=x onerror=alert(1)>") == \
        "&lt;img src=x onerror=alert\\(1\\)&gt;"
    assert markdown_text("# *bold* [link](javascript:x)") == \
        "\\# \\*bold\\* \\[link\\]\\(javascript:x\\)"


# --- hostile data in whole stubs ---------------------------------------------------------------

HOSTILE_TITLE = "Evil\n" + NASTY[7] + "\r\n\u2028# %% Injected\n-*- coding: utf-7 -*-"


@pytest.mark.parametrize("lang", ["python", "r", "julia"])
def test_hostile_values_never_add_lines(lang: str) -> None:
    """Every user value is one literal or one comment line: the stub has exactly as many lines
    (by every line-break rule Python knows) as one made from harmless values."""
    base = render_stub(lang, "http://h", "p", {"name": "x", "other": "y"}, "T")[0]
    for text in NASTY:
        if lang == "r" and "\0" in text:
            continue
        hostile = render_stub(lang, "http://h/" + text, "p" + text,
                              {"name": text, "other": text}, HOSTILE_TITLE)[0]
        assert len(hostile.splitlines()) == len(base.splitlines()), text


def test_python_title_cannot_set_the_source_encoding() -> None:
    content = render_stub("python", "http://h", "p", {}, "-*- coding: utf-7 -*-")[0]
    assert "coding" not in "".join(content.splitlines()[:2])


def test_python_stub_keeps_hostile_values_literal(tmp_path: Path) -> None:
    """The settings step of the stub, run with hostile values everywhere, holds them exactly."""
    PWNED.unlink(missing_ok=True)
    values = [text for text in NASTY if "\0" not in text]
    inputs = {f"v{number}": text for number, text in enumerate(values)}
    content = render_stub("python", "http://h/" + NASTY[7], NASTY[2] + NASTY[12], inputs,
                          HOSTILE_TITLE)[0]
    settings = content.split("\n# %% Submit")[0]
    script = tmp_path / "settings.py"
    script.write_text(settings + "\nprint(json.dumps([CCP_URL, PROCESS_ID, inputs]))\n",
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CCP_TOKEN"}
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            cwd=tmp_path, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == ["http://h/" + NASTY[7], NASTY[2] + NASTY[12], inputs]
    assert not PWNED.exists()


def test_r_stub_parses(tmp_path: Path) -> None:
    """R parses the stub, with harmless and with hostile values, and its settings hold the
    hostile values exactly (evaluated without httr2: only the settings assignments)."""
    stub = tmp_path / "stub.R"
    stub.write_text(render_stub("r", *GOLDEN_ARGS)[0], encoding="utf-8")
    result = run_r("invisible(parse(file = commandArgs(trailingOnly = TRUE)[1]))", str(stub))
    assert result.returncode == 0, result.stderr

    PWNED.unlink(missing_ok=True)
    values = [text for text in NASTY if "\0" not in text]
    inputs = {f"v{number}": text for number, text in enumerate(values)}
    url, process_id = "http://h/" + NASTY[3], NASTY[3] + NASTY[8]
    stub.write_text(render_stub("r", url, process_id, inputs, HOSTILE_TITLE)[0],
                    encoding="utf-8")
    result = run_r(
        "args <- commandArgs(trailingOnly = TRUE);"
        "for (e in parse(file = args[1])) if (is.call(e) && identical(e[[1]], as.name('<-')) &&"
        " as.character(e[[2]]) %in% c('CCP_URL', 'PROCESS_ID', 'INPUTS_JSON')) eval(e);"
        "for (t in c(CCP_URL, PROCESS_ID, INPUTS_JSON))"
        " cat(paste(as.character(charToRaw(enc2utf8(t))), collapse = ''), '\\n', sep = '')",
        str(stub))
    assert result.returncode == 0, result.stderr
    got_url, got_id, got_json = (bytes.fromhex(line).decode()
                                 for line in result.stdout.splitlines())
    assert (got_url, got_id, json.loads(got_json)) == (url, process_id, inputs)
    assert not PWNED.exists()


def test_notebook_is_valid_nbformat() -> None:
    import nbformat  # in setup.cfg's test extras

    content, _, _ = render_stub("ipynb", "http://h", NASTY[7], {"name": NASTY[5]},
                                HOSTILE_TITLE)
    notebook = nbformat.reads(content, as_version=4)
    nbformat.validate(notebook)
    assert (notebook.nbformat, notebook.nbformat_minor) == (4, 5)
    ids = [cell.id for cell in notebook.cells]
    assert len(set(ids)) == len(ids)
    code = [cell.source for cell in notebook.cells if cell.cell_type == "code"]
    assert len(code) == 5  # settings, submit, wait, results, archive
    compile("\n".join(code), "notebook", "exec")
    python = render_stub("python", "http://h", NASTY[7], {"name": NASTY[5]}, HOSTILE_TITLE)[0]
    assert [step for step, _ in python_steps(python)] == [
        "Settings", "Submit the execution", "Wait until the execution has finished",
        "Show the results", "Download the Execution archive"]


# --- the Python stub against a live server -----------------------------------------------------

def run_python_stub(server_url: str, inputs: dict[str, Any], cwd: Path) -> tuple[str, Path]:
    cwd.mkdir(parents=True, exist_ok=True)
    content, _, filename = render_stub("python", server_url, "hello-world", inputs,
                                       "Hello World")
    (cwd / filename).write_text(content, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CCP_TOKEN"}
    result = subprocess.run([sys.executable, filename], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    job_id = re.search(r"^Submitted job (\S+)$", result.stdout, re.M).group(1)
    assert "successful" in result.stdout
    archive = cwd / f"ccp-{job_id}.zip"
    assert archive.is_file(), sorted(cwd.iterdir())
    return job_id, archive


def hello_txt(archive: Path) -> bytes:
    with zipfile.ZipFile(archive) as outer:
        with zipfile.ZipFile(io.BytesIO(outer.read("outputs/output.zip"))) as inner:
            return inner.read("hello.txt")


def test_python_stub_runs_an_execution(server_process: Any, tmp_path: Path) -> None:
    server = server_process()
    job_id, archive = run_python_stub(server.url, {"name": "stub"}, tmp_path / "run")
    assert zipfile.is_zipfile(archive)
    assert hello_txt(archive) == b"Hello, stub!\n"
    with zipfile.ZipFile(archive) as outer:
        assert json.loads(outer.read("metadata/request.json")) == {"inputs": {"name": "stub"}}


@pytest.mark.parametrize("value", [
    'x"; touch /tmp/ccp-stub-pwned; echo "',
    '""" + __import__("os").system("touch /tmp/ccp-stub-pwned") + """ \'\'\' $(x) ${HOME} '
    '`id` \\n\\\\ tab\t\u202e é 😀',
], ids=["shell", "quotes"])
def test_python_stub_sends_hostile_input_literally(server_process: Any, tmp_path: Path,
                                                   value: str) -> None:
    PWNED.unlink(missing_ok=True)
    server = server_process()
    _, archive = run_python_stub(server.url, {"name": value}, tmp_path / "run")
    with zipfile.ZipFile(archive) as outer:
        request = json.loads(outer.read("metadata/request.json"))
    assert request == {"inputs": {"name": value}}
    assert hello_txt(archive) == f"Hello, {value}!\n".encode()
    assert not PWNED.exists()


def test_python_stub_exits_non_zero_when_the_execution_fails(server_process: Any,
                                                             tmp_path: Path) -> None:
    server = server_process()
    content, _, filename = render_stub("python", server.url, "always-fails", {})
    (tmp_path / filename).write_text(content, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CCP_TOKEN"}
    result = subprocess.run([sys.executable, filename], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1, result.stdout
    assert "The execution ended failed" in result.stderr
    assert not list(tmp_path.glob("ccp-*.zip"))


def test_python_stub_sends_the_token_from_the_environment(server_process: Any,
                                                          tmp_path: Path) -> None:
    import jwt

    secret = "codegen-test-secret-0123456789abcdef"
    server = server_process(CCP_AUTH="true", CCP_JWT_SECRET=secret)
    content, _, filename = render_stub("python", server.url, "hello-world", {"name": "token"})
    (tmp_path / filename).write_text(content, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "CCP_TOKEN"}

    refused = subprocess.run([sys.executable, filename], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert "401" in refused.stderr

    token = jwt.encode({"sub": "alice", "exp": 4102444800}, secret, algorithm="HS256")
    result = subprocess.run([sys.executable, filename], cwd=tmp_path,
                            env={**env, "CCP_TOKEN": token}, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    (archive,) = tmp_path.glob("ccp-*.zip")
    assert hello_txt(archive) == b"Hello, token!\n"
