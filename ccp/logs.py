"""CCP's own log lines: `time level logger: message`, one line each, on standard error.

pygeoapi's default format carries the source file and line of every record; an operator reads
what happened, not where in the code. `setup()` runs before pygeoapi's, whose
`logging.basicConfig` then leaves it alone.
"""

from __future__ import annotations

import logging
import sys
import time

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
LEVELS = ("CRITICAL", "ERROR", "WARNING", "INFO", "DEBUG")


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time, so that a live progress display that
    redirects it can print each record above itself."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup(level: str | None = "WARNING") -> None:
    """Send every record to standard error in the concise format, at `level` and above."""
    name = str(level or "WARNING").upper()
    handler = _CurrentStderr()
    formatter = logging.Formatter(FORMAT, DATE_FORMAT)
    formatter.converter = time.gmtime  # the Z in the format is true
    handler.setFormatter(formatter)
    logging.basicConfig(handlers=[handler], level=name if name in LEVELS else "WARNING",
                        force=True)


def concise(err: BaseException, limit: int = 200) -> str:
    """One short line for an error: its own words, with a wrapped cause replaced by the root
    cause (`No such file or directory`, not the repr of three nested exceptions)."""
    text = (str(err).strip().splitlines() or [type(err).__name__])[0]
    cause = err.__cause__ or err.__context__
    root, seen = err, {id(err)}
    while (deeper := root.__cause__ or root.__context__) is not None and id(deeper) not in seen:
        root = deeper
        seen.add(id(root))
    if cause is not None and root is not err:
        reason = root.strerror if isinstance(root, OSError) and root.strerror else (
            (str(root).strip().splitlines() or [type(root).__name__])[0])
        wrapped = (str(cause).strip().splitlines() or [""])[0]
        if wrapped and wrapped in text:
            text = text.replace(wrapped, reason)
    return text if len(text) <= limit else text[:limit - 1] + "…"
