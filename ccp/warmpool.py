"""Warm pools: runtimes launched ahead of their Executions, one per Execution, never reused.

An Infrastructure whose runtime has the `warm-launch` capability (docker, swarm, lxd) and whose
settings say `warmPool: K` keeps up to K runtimes running per image (and replica count), made
exactly as a cold Launch makes them: same image, limits, isolation. An Execution asking for
that image takes one instead of launching (Runtime.adopt gives it the Execution's id and
environment), runs in it and destroys it as always: a warm runtime serves one Execution and
is never reused, so isolation is what it is without a pool. The pool launches a replacement
in the background.

A pool is made for the images in `warmImages` at start-up, and for any other image the first
time an Execution asks for it (that Execution launches cold); an image unused for
`warmMaxAge` seconds is no longer kept warm. A member older than `warmMaxAge` is replaced, and
one whose image tag now names another image is destroyed rather than handed out. Pools are
drained when the server stops and when the Infrastructure's descriptor changes (its limits
may have). Every member is labelled as a pool member with its pool, the server process that
launched it and when it expires (WarmTag): members of a server that died are destroyed by the
next server on the host at start-up, and by any server once they expire.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccp.model import Infrastructure
from ccp.runtimepool import RuntimePool
from ccp.runtimes.base import WARM_LAUNCH, Instance, Runtime, WarmTag

LOGGER = logging.getLogger(__name__)

MAINTENANCE_SECONDS = 2.0  # how often pools are refilled, expired members replaced, ...
LEFTOVER_SECONDS = 60.0  # ... and members of dead servers looked for
EXPIRY_GRACE = 120.0  # a member's label outlives the time its pool hands it out by this
LAUNCHERS = 4  # warm launches (and pool destroys) at once, per server
RETRY_SECONDS = 30.0  # after a failed warm launch, the pool waits this long

_live_owners: set[str] = set()  # the WarmPools of this process that have started


def process_identity() -> str:
    """host:pid:start of this process (its start time tells a reused pid apart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{_start_time(os.getpid())}"


def _start_time(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def is_leftover(tag: WarmTag, now: float) -> bool:
    """A member no live server will take: expired, or its server (on this host) is gone."""
    if tag.expires < now:
        return True
    host, pid, started, _server = (tag.owner.split(":") + ["", "", "", ""])[:4]
    if host != socket.gethostname() or not pid.isdigit():
        return False  # another host's: it expires
    if int(pid) == os.getpid():
        return tag.owner not in _live_owners
    return _start_time(int(pid)) != started


def pool_id(infrastructure: Infrastructure, image: str, replicas: int) -> str:
    """Names a pool by what its members are made of: the descriptor, image and replicas."""
    text = json.dumps([infrastructure.raw, image, replicas], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Member:
    instance: Instance
    handed_out_until: float  # epoch seconds
    image_digest: str | None


@dataclass
class Pool:
    """The warm runtimes of one (Infrastructure descriptor, image, replicas)."""

    infrastructure: Infrastructure
    runtime: Runtime
    image: str
    replicas: int
    keep: bool = False  # in warmImages: kept warm even when unused
    ready: deque[Member] = field(default_factory=deque)
    launching: int = 0
    last_used: float = field(default_factory=time.monotonic)
    retry_at: float = 0.0
    closed: bool = False

    @property
    def size(self) -> int:
        return int(getattr(self.infrastructure.settings, "warm_pool", 0))

    @property
    def max_age(self) -> float:
        return float(getattr(self.infrastructure.settings, "warm_max_age", 600.0))

    @property
    def id(self) -> str:
        return pool_id(self.infrastructure, self.image, self.replicas)


class WarmPools:
    """Every warm pool of one server."""

    def __init__(self, runtimes: RuntimePool,
                 infrastructures: Callable[[], dict[str, Infrastructure]],
                 server_id: str) -> None:
        self.runtimes = runtimes
        self.infrastructures = infrastructures  # the current descriptors, by id
        self.owner = f"{process_identity()}:{server_id}"
        self._pools: dict[tuple[str, str, int], Pool] = {}
        self._lock = threading.Lock()
        self._workers = ThreadPoolExecutor(LAUNCHERS, thread_name_prefix="ccp-warm")
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._warned: set[str] = set()

    def enabled(self, infrastructure: Infrastructure) -> bool:
        return (int(getattr(infrastructure.settings, "warm_pool", 0)) > 0
                and WARM_LAUNCH in self.runtimes.get(infrastructure).capabilities)

    # --- life of the server ------------------------------------------------------------------

    def start(self) -> None:
        """Destroy what dead servers left, warm the `warmImages`, keep the pools filled."""
        if self._stopping.is_set():  # started again after a stop
            self._stopping.clear()
            self._workers = ThreadPoolExecutor(LAUNCHERS, thread_name_prefix="ccp-warm")
        _live_owners.add(self.owner)
        for infrastructure in self.infrastructures().values():
            if self.enabled(infrastructure):
                for image in getattr(infrastructure.settings, "warm_images", ()):
                    self._pool(infrastructure, image, 1).keep = True
        self._thread = threading.Thread(target=self._maintain_loop, name="ccp-warm-pools",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Drain every pool: destroy the members, and those still being launched."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(MAINTENANCE_SECONDS * 5)
            self._thread = None
        with self._lock:
            pools, self._pools = list(self._pools.values()), {}
        for pool in pools:
            self._close(pool)
        self._workers.shutdown(wait=True, cancel_futures=False)
        _live_owners.discard(self.owner)

    # --- executions --------------------------------------------------------------------------

    def take(self, infrastructure: Infrastructure, image: str, replicas: int,
             execution_id: str, env: dict[str, str], main_script: str | None = None
             ) -> Instance | None:
        """A warm runtime adopted by `execution_id`, or None: launch cold (`main_script`:
        see Runtime.adopt)."""
        if self._stopping.is_set() or not self.enabled(infrastructure):
            return None
        current = self.infrastructures().get(infrastructure.id)
        if current is None or current.raw != infrastructure.raw:
            return None  # queued under another descriptor: its limits may differ
        pool = self._pool(infrastructure, image, replicas)
        pool.last_used = time.monotonic()
        digest: str | None = None
        try:
            while (member := self._pop(pool)) is not None:
                if digest is None:
                    digest = pool.runtime.image_digest(image)
                if member.image_digest != digest:  # the tag moved on: not what was asked for
                    self._destroy_later(pool.runtime, member.instance)
                    continue
                try:
                    return pool.runtime.adopt(member.instance, execution_id, env,
                                              main_script)
                except Exception as err:
                    LOGGER.warning("warm runtime %s of %s could not be taken (%s): launching "
                                   "cold", member.instance.execution_id, infrastructure.id, err)
                    self._destroy_later(pool.runtime, member.instance)
                    return None
            return None
        finally:
            self._wake.set()  # refill

    def drain(self, infrastructure_id: str) -> int:
        """Destroy the warm runtimes of one Infrastructure (its descriptor changed, say);
        returns how many pools were drained."""
        with self._lock:
            pools = [self._pools.pop(key) for key in list(self._pools)
                     if key[0] == infrastructure_id]
        for pool in pools:
            self._close(pool)
        return len(pools)

    def status(self, infrastructure_id: str) -> dict[str, Any]:
        """The pools of one Infrastructure: image -> ready and launching counts."""
        with self._lock:
            return {pool.image if pool.replicas == 1 else f"{pool.image} x{pool.replicas}":
                    {"ready": len(pool.ready), "launching": pool.launching}
                    for key, pool in self._pools.items() if key[0] == infrastructure_id}

    # --- the pools ---------------------------------------------------------------------------

    def _pool(self, infrastructure: Infrastructure, image: str, replicas: int) -> Pool:
        key = (infrastructure.id, image, replicas)
        stale = None
        with self._lock:
            pool = self._pools.get(key)
            if pool is None or pool.infrastructure.raw != infrastructure.raw:
                stale = pool
                pool = self._pools[key] = Pool(infrastructure,
                                               self.runtimes.get(infrastructure), image,
                                               replicas)
        if stale is not None:
            self._close(stale)
        self._wake.set()
        return pool

    def _pop(self, pool: Pool) -> Member | None:
        """The oldest member still handed out (older ones are destroyed)."""
        self._replace_expired(pool)
        with self._lock:
            return pool.ready.popleft() if pool.ready else None

    def _close(self, pool: Pool) -> None:
        with self._lock:
            pool.closed = True
            members, pool.ready = list(pool.ready), deque()
        for member in members:
            self._destroy_later(pool.runtime, member.instance)

    def _maintain_loop(self) -> None:
        next_leftovers = 0.0  # at once: what a server that died here left
        while not self._stopping.is_set():
            try:
                if time.monotonic() >= next_leftovers:
                    next_leftovers = time.monotonic() + LEFTOVER_SECONDS
                    destroy_leftovers(self.runtimes, list(self.infrastructures().values()))
                self.maintain()
            except Exception:
                LOGGER.exception("warm pool maintenance")
            self._wake.wait(MAINTENANCE_SECONDS)
            self._wake.clear()

    def maintain(self) -> None:
        """Drain pools whose Infrastructure changed or whose image is no longer used, replace
        members past their time, launch what is missing."""
        current = self.infrastructures()
        with self._lock:
            pools = list(self._pools.items())
        for key, pool in pools:
            infrastructure = current.get(key[0])
            unused = time.monotonic() - pool.last_used > pool.max_age and not pool.keep
            if infrastructure is None or infrastructure.raw != pool.infrastructure.raw \
                    or not self.enabled(infrastructure) or unused:
                with self._lock:
                    if self._pools.get(key) is pool:
                        del self._pools[key]
                self._close(pool)
                continue
            self._replace_expired(pool)
            self._fill(pool)

    def _replace_expired(self, pool: Pool) -> None:
        now = time.time()
        with self._lock:
            expired = [m for m in pool.ready if m.handed_out_until <= now]
            pool.ready = deque(m for m in pool.ready if m.handed_out_until > now)
        for member in expired:
            self._destroy_later(pool.runtime, member.instance)

    def _fill(self, pool: Pool) -> None:
        with self._lock:
            if pool.closed or time.monotonic() < pool.retry_at:
                return
            missing = pool.size - len(pool.ready) - pool.launching
            pool.launching += max(0, missing)
        for _ in range(missing):
            self._workers.submit(self._launch, pool)

    def _launch(self, pool: Pool) -> None:
        launched = time.time()
        tag = WarmTag(pool.id, self.owner, launched + pool.max_age + EXPIRY_GRACE)
        try:
            if pool.closed:
                raise _Closed
            instance = pool.runtime.launch_warm(pool.image, tag, pool.replicas)
        except Exception as err:
            with self._lock:
                pool.launching -= 1
                if not isinstance(err, _Closed):
                    pool.retry_at = time.monotonic() + RETRY_SECONDS
            if not isinstance(err, _Closed):
                self._warn(pool, err)
            return
        member = Member(instance, launched + pool.max_age, instance.handle.get("imageDigest"))
        with self._lock:
            pool.launching -= 1
            if not pool.closed:
                pool.ready.append(member)
                self._warned.discard(pool.id)
                return
        destroy_member(pool.runtime, instance)

    def _warn(self, pool: Pool, err: BaseException) -> None:
        if pool.id not in self._warned:  # once until it works again
            self._warned.add(pool.id)
            LOGGER.warning("warm pool of %s on %s: launching ahead failed (retrying every "
                           "%.0f s): %s", pool.image, pool.infrastructure.id, RETRY_SECONDS,
                           err)

    def _destroy_later(self, runtime: Runtime, instance: Instance) -> None:
        try:
            self._workers.submit(destroy_member, runtime, instance)
        except RuntimeError:  # shut down already: do it here
            destroy_member(runtime, instance)


def destroy_member(runtime: Runtime, instance: Instance) -> None:
    try:
        runtime.destroy(instance)
    except Exception as err:  # labelled: destroy_leftovers retries once it expires
        LOGGER.warning("destroying warm runtime %s failed: %s", instance.execution_id, err)


# --- what dead servers left ----------------------------------------------------------------


def destroy_leftovers(runtimes: RuntimePool, infrastructures: Iterable[Infrastructure]
                      ) -> list[str]:
    """Destroy pool members no live server will take; returns their member ids."""
    destroyed = []
    seen: set[tuple[str, str]] = set()
    now = time.time()
    for infrastructure in infrastructures:
        runtime = runtimes.get(infrastructure)
        if WARM_LAUNCH not in runtime.capabilities:
            continue
        try:
            members = runtime.warm_members()
        except Exception as err:
            LOGGER.debug("listing warm runtimes on %s: %s", infrastructure.id, err)
            continue
        for instance, tag in members:
            if (runtime.type, instance.execution_id) in seen or not is_leftover(tag, now):
                continue
            seen.add((runtime.type, instance.execution_id))
            LOGGER.info("destroying warm runtime %s left by %s", instance.execution_id,
                        tag.owner)
            destroy_member(runtime, instance)
            destroyed.append(instance.execution_id)
    return destroyed


class _Closed(Exception):
    """The pool was drained before its launch began."""
