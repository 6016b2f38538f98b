"""The log of one execution: every line with its time, phase, replica and stream.

Written to disk as it comes, so it can be read while the job runs and ends up in the archive
as `logs/execution.log` plus `logs/<phase>.stdout.log` / `.stderr.log`.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ccp import archive
from ccp.runtimes.base import now_iso


class ExecutionLog:
    def __init__(self, archive_dir: Path) -> None:
        self.archive_dir = archive_dir
        (archive_dir / archive.LOGS).mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self.path = archive_dir / archive.EXECUTION_LOG
        self.path.touch()

    def line(self, phase: str, replica: int | None, stream: str, text: str) -> None:
        where = f"[{phase}]" + (f" [replica {replica}]" if replica else "")
        with self._lock:
            with self.path.open("a", encoding="utf-8") as log:
                log.write(f"{now_iso()} {where} [{stream}] {text}\n")
            if replica is not None and stream in ("stdout", "stderr"):
                part = self.archive_dir / archive.phase_log(phase, stream, replica)
                with part.open("a", encoding="utf-8") as log:
                    log.write(text + "\n")

    def event(self, phase: str, text: str) -> None:
        self.line(phase, None, "ccp", text)

    def text_of(self, phase: str, stream: str) -> str:
        part = self.archive_dir / archive.phase_log(phase, stream)
        return part.read_text(encoding="utf-8") if part.exists() else ""
