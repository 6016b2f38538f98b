"""Synchronous execution: how long one execute request may hold, by OGC API - Processes 1.0
and RFC 7240, and waiting for a job to end without hammering the job store.

The execution mode (1.0, /req/core/process-execute-default-execution-mode and
-auto-execution-mode): a Method that only runs asynchronously answers 201 at once; one that
also (or only) runs synchronously holds the request until its job ends, unless the client
prefers `respond-async` (then 201 at once, when the Method can run asynchronously). `wait=N`
(alone, or with respond-async as RFC 7240 describes) holds the request at most N seconds.
Every hold is capped by the server (`sync_max_seconds`) and by how many requests may hold at
once (`sync_max_waiting`): past either, the job goes on asynchronously (201, Location,
`Preference-Applied: respond-async`). A synchronous execution is a job like any other (1.0
permission /per/core/process-execute-sync-job): the answer links it as `rel=monitor`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from time import monotonic
from typing import TypeVar

SYNC, ASYNC = "sync-execute", "async-execute"
POLL_SECONDS = 1.0  # another server may run the job: look at the store this often
WAIT_TOKEN = re.compile(r"^wait\s*=\s*\"?([0-9]{1,9})\"?$", re.IGNORECASE)
MAX_PREFER = 1024
T = TypeVar("T")


@dataclass(frozen=True)
class Preferences:
    """What a `Prefer` header asks for (RFC 7240); unknown tokens are ignored."""

    respond_async: bool = False
    wait: int | None = None

    @classmethod
    def parse(cls, headers: list[str]) -> Preferences:
        respond_async, wait = False, None
        for header in headers:
            for token in header[:MAX_PREFER].split(","):
                token = token.split(";")[0].strip()
                if token.lower() == "respond-async":
                    respond_async = True
                elif match := WAIT_TOKEN.match(token):
                    wait = int(match.group(1))
        return cls(respond_async, wait)


def hold_seconds(modes: tuple[str, ...], preferences: Preferences, cap: float) -> float:
    """How long an execute request holds before answering asynchronously; 0: at once."""
    if SYNC not in modes:
        return 0
    if ASYNC in modes and preferences.respond_async and preferences.wait is None:
        return 0
    if preferences.wait is not None:
        return max(0.0, min(float(preferences.wait), cap))
    return max(0.0, cap)


def applied(preferences: Preferences, answered_async: bool) -> str | None:
    """The `Preference-Applied` header of an answer (None: none)."""
    if answered_async:
        return "respond-async"
    if preferences.wait is not None:
        return f"wait={preferences.wait}"
    return None


class FinishSignals:
    """Wakes the requests that wait for a job when this server's worker finishes it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[str, list[threading.Event]] = {}

    @contextmanager
    def watch(self, job_id: str) -> Iterator[threading.Event]:
        event = threading.Event()
        with self._lock:
            self._waiting.setdefault(job_id, []).append(event)
        try:
            yield event
        finally:
            with self._lock:
                events = self._waiting.get(job_id, [])
                if event in events:
                    events.remove(event)
                if not events:
                    self._waiting.pop(job_id, None)

    def announce(self, job_id: str) -> None:
        with self._lock:
            for event in self._waiting.get(job_id, []):
                event.set()


def wait_until(signals: FinishSignals, job_id: str, seconds: float,
               look: Callable[[], T], done: Callable[[T], bool]) -> T:
    """`look()` until `done` holds or `seconds` pass: woken by this server's worker, else
    every POLL_SECONDS (the job may run on another server)."""
    deadline = monotonic() + seconds
    with signals.watch(job_id) as finished:
        while True:
            seen = look()
            remaining = deadline - monotonic()
            if done(seen) or remaining <= 0:
                return seen
            finished.wait(min(remaining, POLL_SECONDS))
            finished.clear()


class Holders:
    """How many requests hold at once; beyond the limit a request answers asynchronously."""

    def __init__(self, limit: int) -> None:
        self._slots = threading.BoundedSemaphore(max(1, limit))

    @contextmanager
    def slot(self) -> Iterator[bool]:
        acquired = self._slots.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                self._slots.release()
