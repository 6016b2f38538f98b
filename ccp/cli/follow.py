"""Watching one job in a terminal: its phase and progress, its log lines as they come, then
its results, the archive's location and its exit code.

On a terminal this is a `rich` progress bar with the log scrolling above it; anywhere else
(a pipe, a file, CI) plain lines without colours, so the output reads the same in a log file.
"""

from __future__ import annotations

import functools
import json
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Protocol, TextIO

from ccp.cli.client import FINAL_STATUSES, Client

# The exit code of a command that watched a job to its end: the job's final status.
EXIT_CODES = {"successful": 0, "failed": 1, "dismissed": 3}
EXIT_ERROR = 4  # CCP refused the request, or could not be reached
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report it

POLL_SECONDS = 0.5
LOG_LINE = re.compile(r"^(\S+) ((?:\[[^\]]*\] ?)*)(.*)$")


def printable(text: str) -> str:
    """A job's text with terminal control characters made visible, so a script's output
    cannot move the cursor or retitle the user's terminal."""
    return "".join(c if c == "\t" or c.isprintable() else "\N{REPLACEMENT CHARACTER}"
                   for c in text)


class View(Protocol):
    def status(self, job: dict[str, Any]) -> None: ...
    def log(self, line: str) -> None: ...
    def note(self, text: str) -> None: ...
    def close(self) -> None: ...


@dataclass
class Terminal:
    """Where the human-readable output goes, and whether it may be live and coloured."""

    stream: TextIO
    live: bool

    @classmethod
    def choose(cls, stream: TextIO) -> Terminal:
        is_tty = stream.isatty() and os.environ.get("TERM", "") not in ("dumb", "unknown")
        return cls(stream, is_tty)

    @functools.cached_property
    def console(self) -> Any:
        from rich.console import Console

        return Console(file=self.stream, highlight=False, soft_wrap=True, emoji=False)

    def line(self, text: str, style: str = "") -> None:
        if self.live and style:
            from rich.text import Text

            self.console.print(Text(text, style=style))
        else:
            print(text, file=self.stream, flush=True)

    def view(self) -> View:
        return LiveView(self.console) if self.live else PlainView(self.stream)


class PlainView:
    """One line per change of status or phase, and the log lines as they are."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.last: tuple[str, str] | None = None

    def status(self, job: dict[str, Any]) -> None:
        key = (job["status"], job.get("message") or "")
        if key != self.last:
            self.last = key
            self.note(f"{job['status']} {job.get('progress') or 0:>3}% {printable(key[1])}")

    def log(self, line: str) -> None:
        print(printable(line), file=self.stream, flush=True)

    def note(self, text: str) -> None:
        print(f"[ccp] {text}", file=self.stream, flush=True)

    def close(self) -> None:
        pass


class LiveView:
    """A progress bar with the phase, under the log lines."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            SpinnerColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.progress = Progress(
            SpinnerColumn(), TextColumn("[bold]{task.fields[status]:<9}"), BarColumn(),
            TaskProgressColumn(), TimeElapsedColumn(), TextColumn("{task.description}",
                                                                 markup=False),
            console=console, redirect_stdout=False)
        self.task = self.progress.add_task("submitted", total=100, status="accepted")
        self.progress.start()

    def status(self, job: dict[str, Any]) -> None:
        self.progress.update(self.task, completed=job.get("progress") or 0,
                             description=printable(job.get("message") or ""),
                             status=job["status"])

    def log(self, line: str) -> None:
        from rich.text import Text

        match = LOG_LINE.match(printable(line))
        if not match:
            self.console.print(Text(printable(line)))
            return
        stamp, tags, text = match.groups()
        styled = Text()
        styled.append(stamp[11:23] + " ", style="dim")  # the time of day is enough here
        styled.append(tags, style="red" if "[stderr]" in tags else "cyan")
        styled.append(text)
        self.console.print(styled)

    def note(self, text: str) -> None:
        from rich.text import Text

        self.console.print(Text(text, style="yellow"))

    def close(self) -> None:
        self.progress.stop()


class Follower:
    """Polls a job and its log, showing each complete log line once."""

    def __init__(self, client: Client, job_id: str, view: View) -> None:
        self.client = client
        self.job_id = job_id
        self.view = view
        self.offset = 0  # bytes of the log read so far
        self.partial = b""  # the start of a line still being written

    def until_final(self) -> dict[str, Any]:
        while True:
            job = self.client.status(self.job_id)
            final = job["status"] in FINAL_STATUSES
            # The log is read after the status, so a final status comes with the final log.
            data = self.client.logs(self.job_id, self.offset)
            self.offset += len(data)
            *lines, self.partial = (self.partial + data).split(b"\n")
            if final and self.partial:
                lines, self.partial = [*lines, self.partial], b""
            for line in lines:
                self.view.log(line.decode("utf-8", "replace"))
            self.view.status(job)
            if final:
                return job
            time.sleep(POLL_SECONDS)


def watch(client: Client, job_id: str, terminal: Terminal, dismiss_on_interrupt: bool
          ) -> dict[str, Any]:
    """Show a job until it ends. Ctrl-C dismisses it first when `dismiss_on_interrupt`
    (a second Ctrl-C stops waiting); otherwise Ctrl-C just stops watching."""
    view = terminal.view()
    follower = Follower(client, job_id, view)
    try:
        try:
            return follower.until_final()
        except KeyboardInterrupt:
            if not dismiss_on_interrupt:
                raise
            view.note(f"Ctrl-C: dismissing job {job_id} (Ctrl-C again to stop waiting)")
            client.dismiss(job_id)
            return follower.until_final()
    finally:
        view.close()


def summary(client: Client, job: dict[str, Any], terminal: Terminal) -> dict[str, Any]:
    """Print how the job ended; return the same as one JSON-ready document."""
    job_id, status = job["jobID"], job["status"]
    results = client.results(job_id) if status == "successful" else None
    archive = client.archive_location(job)
    code = EXIT_CODES.get(status, EXIT_ERROR)
    colour = {"successful": "bold green", "failed": "bold red"}.get(status, "bold yellow")
    terminal.line(f"job {job_id} {status}: {printable(job.get('message') or '')}", colour)
    outputs = results or {}
    if outputs:
        terminal.line("outputs:", "bold")
        for name, output in outputs.items():
            if "value" in output:
                terminal.line(f"  {name}:")
                value = output["value"]
                text = value if isinstance(value, str) else json.dumps(value, indent=2)
                for line in text.rstrip("\n").split("\n"):
                    terminal.line(f"    {printable(line)}")
            else:
                terminal.line(f"  {name}: {output.get('href', '')}")
    terminal.line(f"archive: {archive or 'none (' + status + ' without a stored archive)'}")
    terminal.line(f"exit code {code} ({status})", "dim")
    return {"jobID": job_id, "processID": job.get("processID"), "status": status,
            "message": job.get("message"), "exitCode": code, "results": results,
            "archive": archive}

