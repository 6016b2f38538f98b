"""Subscriber callbacks (OGC API - Processes 1.0, class `callback`).

An execute request (or a Part 4 job definition) may carry
`"subscriber": {"successUri": ..., "failedUri": ..., "inProgressUri": ...}`. Each URI is
checked against the outbound policy when the job is submitted (a forbidden one is a 400).
Then, as the job moves on, the server POSTs JSON to them:
- `inProgressUri`: the status info, when the job starts running and at each lifecycle phase
  (a newer one replaces one still waiting to be sent: the receiver gets the latest state);
- `successUri`: the results document, once the job is successful;
- `failedUri`: the status info, once the job failed or was dismissed.

Delivery is a durable queue in the job store (`ccp_callbacks`), sent by a few sender threads
of their own: a worker only adds a row, so a slow or dead receiver never holds a worker,
and the senders stop with the server at once (a callback not yet sent is sent after the
restart). A 2xx answer is a delivery; no answer, 408, 425, 429 or a 5xx is retried with
exponential backoff up to `attempts` times; any other answer, or a URI the policy refuses
when it is sent, ends the callback (`failed`, with the reason, in the server's log).
Redirects are not followed. Several servers on one database share the queue: a row is
claimed with a conditional update and retried by another server if its sender died.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update

from ccp import errors
from ccp.jobs import Job, JobStatus
from ccp.jobstore import JobNotFound, JobStore, callbacks
from ccp.outbound import OutboundPolicy, OutboundRefused
from ccp.pinnedhttp import FetchFailed
from ccp.runtimes.base import now_iso

LOGGER = logging.getLogger(__name__)

URI_KEYS = {"successUri": "success", "failedUri": "failed", "inProgressUri": "inProgress"}
PENDING, SENT, FAILED = "pending", "sent", "failed"
RETRIED_STATUSES = (408, 425, 429)
IDLE_POLL_SECONDS = 1.0
KEEP_SECONDS = 7 * 24 * 3600  # delivered and failed callbacks are kept this long
# (job, results?) -> JSON body; the API binds the OGC documents (ccp.api.part4).
Renderer = Callable[[Job, bool], dict[str, Any]]


def check_subscriber(request: dict[str, Any], policy: OutboundPolicy) -> None:
    """A 400 for an execution request whose subscriber the server will not call."""
    if "subscriber" not in request:
        return
    subscriber = request["subscriber"]
    if not isinstance(subscriber, dict):
        raise errors.InvalidParameter("'subscriber' must be an object of URIs")
    unknown = sorted(set(subscriber) - set(URI_KEYS))
    if unknown:
        raise errors.InvalidParameter(f"'subscriber' holds {', '.join(URI_KEYS)}, not "
                                      f"{', '.join(unknown)}")
    for key, uri in subscriber.items():
        try:
            policy.check(uri)
        except OutboundRefused as err:
            raise errors.OutboundRefused(f"subscriber.{key}: {err}") from err


@dataclass(frozen=True)
class CallbackSettings:
    attempts: int = 6
    backoff: float = 2.0  # seconds before the 2nd attempt; doubled for each next one
    max_backoff: float = 300.0
    timeout: float = 10.0  # for one POST, connection included
    senders: int = 2

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> CallbackSettings:
        config = config or {}
        defaults = cls()
        return cls(attempts=max(1, int(config.get("attempts") or defaults.attempts)),
                   backoff=float(config.get("backoff") or defaults.backoff),
                   max_backoff=float(config.get("max_backoff") or defaults.max_backoff),
                   timeout=float(config.get("timeout") or defaults.timeout),
                   senders=max(1, int(config.get("senders") or defaults.senders)))


def plain_status(job: Job, _results: bool) -> dict[str, Any]:
    """The body when no API is bound (a manager without its Flask app)."""
    return {"jobID": job.identifier, "processID": job.process_id, "type": "process",
            "status": job.status.value, "message": job.message, "progress": job.progress}


class Callbacks:
    def __init__(self, store: JobStore, policy: OutboundPolicy,
                 settings: CallbackSettings = CallbackSettings()) -> None:
        self.store = store
        self.engine = store.engine
        self.policy = policy
        self.settings = settings
        self.render: Renderer = plain_status
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_purge = 0.0

    # --- queueing: called by workers and the manager; never raises ---------------------------

    def job_changed(self, job_id: str, subscriber: Any) -> None:
        """Queue the callback the job's current state calls for, if it has a subscriber."""
        if not subscriber or not isinstance(subscriber, dict):
            return
        try:
            self._queue(self.store.get(job_id), subscriber)
        except JobNotFound:
            pass
        except Exception:
            LOGGER.exception("queueing a callback of job %s failed", job_id)

    def _queue(self, job: Job, subscriber: dict[str, Any]) -> None:
        if job.status == JobStatus.SUCCESSFUL:
            event = "success"
        elif job.status in (JobStatus.FAILED, JobStatus.DISMISSED):
            event = "failed"
        elif job.status == JobStatus.RUNNING:
            event = "inProgress"
        else:
            return  # created or accepted: nothing has happened yet
        uri = subscriber.get(f"{event}Uri")
        with self.engine.begin() as connection:
            if event != "inProgress":  # progress not sent yet is stale now
                connection.execute(delete(callbacks).where(
                    callbacks.c.job_id == job.identifier, callbacks.c.event == "inProgress",
                    callbacks.c.state == PENDING, callbacks.c.attempts == 0))
            if not isinstance(uri, str):
                return
            body = json.dumps(self.render(job, event == "success"), default=str)
            now = now_iso()
            if event == "inProgress" and connection.execute(
                    update(callbacks).where(
                        callbacks.c.job_id == job.identifier, callbacks.c.event == event,
                        callbacks.c.state == PENDING, callbacks.c.attempts == 0)
                    .values(body=body, updated=now)).rowcount:
                return
            connection.execute(callbacks.insert().values(
                identifier=str(uuid.uuid4()), job_id=job.identifier, event=event, uri=uri,
                body=body, state=PENDING, attempts=0, next_attempt=time.time(),
                created=now, updated=now))
        self._wake.set()

    def of_job(self, job_id: str) -> list[dict[str, Any]]:
        """The callbacks of one job, oldest first (for tests and operators)."""
        with self.engine.connect() as connection:
            rows = connection.execute(select(callbacks).where(callbacks.c.job_id == job_id)
                                      .order_by(callbacks.c.created)).all()
        return [dict(row._mapping) for row in rows]

    # --- sending ------------------------------------------------------------------------------

    def start(self) -> None:
        self._stopping.clear()
        for number in range(self.settings.senders):
            thread = threading.Thread(target=self._send_loop, daemon=True,
                                      name=f"ccp-callbacks-{number + 1}")
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float) -> None:
        """Stop sending; a POST under way ends within its own timeout (threads are daemons,
        so even that does not hold the process)."""
        self._stopping.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def _send_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                row = self._claim()
                if row is None:
                    self._purge()
                    self._wake.wait(self._until_next_due())
                    self._wake.clear()
                    continue
                self._deliver(row)
            except Exception:
                LOGGER.exception("the callback sender failed; it goes on")
                self._stopping.wait(IDLE_POLL_SECONDS)

    def _claim(self) -> Any:
        """The next callback due, leased to this sender (another sender retries it if this
        one dies before it is done)."""
        for _attempt in range(5):
            now = time.time()
            with self.engine.begin() as connection:
                row = connection.execute(
                    select(callbacks).where(callbacks.c.state == PENDING,
                                            callbacks.c.next_attempt <= now)
                    .order_by(callbacks.c.next_attempt, callbacks.c.created).limit(1)).first()
                if row is None:
                    return None
                won = connection.execute(
                    update(callbacks).where(callbacks.c.identifier == row.identifier,
                                            callbacks.c.state == PENDING,
                                            callbacks.c.attempts == row.attempts)
                    .values(attempts=row.attempts + 1,
                            next_attempt=now + self.settings.timeout + 30,
                            updated=now_iso())).rowcount == 1
            if won:
                return row
        return None

    def _until_next_due(self) -> float:
        """Seconds to wait for the next retry due (at most IDLE_POLL_SECONDS: other servers
        queue callbacks without waking this one)."""
        with self.engine.connect() as connection:
            due = connection.scalar(select(func.min(callbacks.c.next_attempt))
                                    .where(callbacks.c.state == PENDING))
        return IDLE_POLL_SECONDS if due is None else \
            max(0.01, min(IDLE_POLL_SECONDS, float(due) - time.time()))

    def _deliver(self, row: Any) -> None:
        attempt = row.attempts + 1
        error, final = None, False
        try:
            status = self.policy.post_json(row.uri, row.body.encode(), self.settings.timeout)
            if not 200 <= status < 300:
                error = f"the receiver answered {status}"
                final = status < 500 and status not in RETRIED_STATUSES
        except OutboundRefused as err:
            error, final = f"refused by the outbound policy: {err}", True
        except (FetchFailed, OSError) as err:
            error = str(err) or type(err).__name__
        values: dict[str, Any] = {"updated": now_iso(), "last_error": error}
        if error is None:
            values["state"] = SENT
        elif final or attempt >= self.settings.attempts:
            values["state"] = FAILED
            LOGGER.warning("callback %s of job %s to %s given up after %d attempt(s): %s",
                           row.event, row.job_id, row.uri[:200], attempt, error)
        else:
            values["next_attempt"] = time.time() + min(
                self.settings.max_backoff, self.settings.backoff * 2 ** (attempt - 1))
        with self.engine.begin() as connection:
            connection.execute(update(callbacks)
                               .where(callbacks.c.identifier == row.identifier)
                               .values(**values))

    def _purge(self) -> None:
        """Forget delivered and failed callbacks after a week (at most once an hour)."""
        if time.monotonic() - self._last_purge < 3600:
            return
        self._last_purge = time.monotonic()
        cutoff = time.time() - KEEP_SECONDS
        with self.engine.begin() as connection:
            connection.execute(delete(callbacks).where(
                callbacks.c.state.in_([SENT, FAILED]), callbacks.c.next_attempt < cutoff))
