"""The `settings` of an Infrastructure descriptor, typed and checked, one dataclass per type.

Every runtime reads its settings from one of these classes, never from the raw JSON: a key
that no runtime reads, or a value of the wrong kind, is a problem found when the descriptor
is loaded ("settings.pidLimit is not a setting of docker (did you mean pidsLimit?)").
A JSON key is the camelCase spelling of the field name (`pids_limit` <- `pidsLimit`).

This module imports nothing of the engines: the model validates descriptors with it.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from ccp.values import as_bool, parse_size

Parser = Callable[[Any], Any]

# Host uids 0-65535 hold the system's and people's accounts (and nobody, 65534); LXD and
# Docker user namespaces take ranges from /etc/subuid, which the local runtime checks too.
FIRST_RUNNER_UID = 65536
DEFAULT_RUNNER_UIDS = (2_000_000_000, 2_000_000_999)
MAX_WARM_POOL = 64


# --- value parsers: each returns the typed value or raises ValueError(what is wrong) --------

def positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("must be a positive integer")
    return value


def non_negative_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be an integer >= 0")
    return value


def pool_size(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WARM_POOL:
        raise ValueError(f"must be an integer from 0 (off) to {MAX_WARM_POOL}")
    return value


def positive_number(value: Any) -> float:
    if (isinstance(value, bool) or not isinstance(value, int | float)
            or not math.isfinite(value) or value <= 0):
        raise ValueError("must be a positive number")
    return float(value)


def size(value: Any) -> int | None:
    return parse_size(value)


def boolean(value: Any) -> bool:
    return as_bool(value)


def text(value: Any) -> str | None:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value or None


def text_list(value: Any) -> tuple[str, ...]:
    """A list of strings; one string is a list of one."""
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
        raise ValueError("must be a list of non-empty strings")
    return tuple(values)


def bool_or_path(value: Any) -> bool | str:
    """true, false, or the path of a certificate file."""
    if isinstance(value, str) and value.strip().lower() not in ("true", "false"):
        if not value:
            raise ValueError("must be true, false or a file path")
        return value
    return as_bool(value)


def uid_range(value: Any) -> tuple[int, int]:
    if (not isinstance(value, list) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)):
        raise ValueError("must be [first, last], two host uids")
    first, last = value
    if first < FIRST_RUNNER_UID or last < first or last > 2**31 - 2:
        raise ValueError(f"must be [first, last] with {FIRST_RUNNER_UID} <= first <= last "
                         f"< 2^31 - 1 (lower uids belong to the system's accounts)")
    return first, last


@dataclass(frozen=True)
class TLS:
    """Client TLS for a remote Docker engine: CA, client certificate and key files."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None
    verify: bool | str = True


def tls(value: Any) -> TLS | None:
    """true: verify against the default CAs; an object {ca, cert, key, verify}; false: none."""
    if not isinstance(value, dict):
        return TLS() if as_bool(value) else None
    unknown = sorted(set(value) - {"ca", "cert", "key", "verify"})
    if unknown:
        raise ValueError(f"has unknown key(s) {', '.join(unknown)} (known: ca, cert, key, "
                         "verify)")
    files = {name: text(value[name]) for name in ("ca", "cert", "key") if value.get(name)}
    if bool(files.get("cert")) != bool(files.get("key")):
        raise ValueError("needs both cert and key, or neither")
    return TLS(**files, verify=bool_or_path(value.get("verify", True)))


def setting(default: Any, parse: Parser, doc: str) -> Any:
    """A field of a settings class: its default, how to read it, what it means."""
    return field(default=default, metadata={"parse": parse, "doc": doc})


# --- the settings of every type ------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    """What every Infrastructure may set."""

    max_time: int = setting(3600, positive_int, "seconds; the ceiling of ccpmaxtime")
    max_replicas: int = setting(1, positive_int, "the ceiling of ccpreplicas")
    memory: int | None = setting(None, size, "memory limit of an execution (512m, 2g)")
    cpus: float | None = setting(None, positive_number, "CPU limit of an execution")
    runtime_token: bool = setting(False, boolean,
                                  "give scripts CCP_TOKEN and CCP_URL to call the server")
    isolation: str | None = setting(None, text, "a note for people; CCP does not read it")
    # job control and health (docs/job-control.md)
    max_suspend: int = setting(3600, non_negative_int,
                               "seconds one execution may spend suspended in all; 0: no "
                               "suspend")
    extend: bool = setting(True, boolean,
                           "clients may extend a running execution's time limit, up to "
                           "maxTime in all")
    health_interval: int = setting(30, positive_int, "seconds between health checks")
    probe_image: str | None = setting(None, text,
                                      "image of a probe run (`true` in a new instance) in "
                                      "health checks; unset: engine reachability only")
    probe_interval: int = setting(600, positive_int,
                                  "seconds between probe runs while the checks pass")
    probe_timeout: int = setting(60, positive_int, "seconds a probe run may take")
    unhealthy_wait: int = setting(600, positive_int,
                                  "seconds a queued execution waits for its unhealthy "
                                  "Infrastructure before it fails")


@dataclass(frozen=True)
class LocalSettings(Settings):
    work_root: str | None = setting(None, text,
                                    "where work dirs are made (default: <tmp>/ccp-local)")
    runner_uids: tuple[int, int] = setting(
        DEFAULT_RUNNER_UIDS, uid_range,
        "[first, last] host uids; a server running as root gives each running execution "
        "one of its own")
    pids_limit: int = setting(512, positive_int,
                              "processes of one execution (with a runner uid)")


@dataclass(frozen=True)
class WarmPoolSettings(Settings):
    """What runtimes with warm-launch (docker, swarm, lxd) add: a pool of runtimes launched
    ahead, each used for exactly one Execution and then destroyed (ccp/warmpool.py)."""

    warm_pool: int = setting(0, pool_size,
                             "runtimes launched ahead per image (0: off); each runs one "
                             "Execution and is destroyed, never reused")
    warm_images: tuple[str, ...] = setting((), text_list,
                                           "images kept warm from start-up (any other image "
                                           "once an Execution has asked for it)")
    warm_max_age: float = setting(600.0, positive_number,
                                  "seconds a warm runtime waits before it is replaced; an "
                                  "image unused this long is no longer kept warm")


@dataclass(frozen=True)
class DockerSettings(WarmPoolSettings):
    engine: str | None = setting(None, text, "engine address (default: $DOCKER_HOST)")
    tls: TLS | None = setting(None, tls, "{ca, cert, key, verify} for a tcp:// engine")
    use_ssh_client: bool = setting(False, boolean, "ssh:// engines: use the ssh binary")
    timeout: int = setting(60, positive_int, "seconds for one engine API call")
    network: str = setting("none", text, "Docker network of the containers")
    pids_limit: int = setting(512, positive_int, "processes per container")
    pull: bool = setting(True, boolean, "pull a missing image once")


@dataclass(frozen=True)
class SwarmSettings(DockerSettings):
    start_timeout: float = setting(60.0, positive_number,
                                   "seconds for every task of a service to run")
    constraints: tuple[str, ...] = setting((), text_list, "Swarm placement constraints")


@dataclass(frozen=True)
class LXDSettings(WarmPoolSettings):
    endpoint: str | None = setting(None, text, "https://host:8443 (default: the unix socket)")
    cert: str | None = setting(None, text, "client certificate file")
    key: str | None = setting(None, text, "client key file")
    verify: bool | str = setting(True, bool_or_path,
                                 "server certificate to pin, CA bundle, or false")
    project: str = setting("default", text, "LXD project")
    profile: tuple[str, ...] = setting(("default",), text_list, "profiles of each container")
    target: str | None = setting(None, text, "cluster member for the containers")
    privileged: bool = setting(False, boolean, "privileged containers (avoid)")


# --- reading a descriptor's settings -------------------------------------------------------

def json_key(name: str) -> str:
    """pids_limit -> pidsLimit."""
    first, *rest = name.split("_")
    return first + "".join(part.capitalize() for part in rest)


def keys_of(settings_class: type[Settings]) -> dict[str, str]:
    """JSON key -> field name."""
    return {json_key(f.name): f.name for f in fields(settings_class)}


def parse_settings(settings_class: type[Settings], raw: dict[str, Any], type_name: str,
                   report_unknown: bool = True) -> tuple[Settings, list[str]]:
    """The typed settings and every problem found; defaults stand in for bad values."""
    known = keys_of(settings_class)
    parsers = {f.name: f.metadata["parse"] for f in fields(settings_class)}
    values: dict[str, Any] = {}
    problems: list[str] = []
    for key, value in raw.items():
        name = known.get(key)
        if name is None:
            if not report_unknown:
                continue
            close = difflib.get_close_matches(key, list(known), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            problems.append(f"settings.{key} is not a setting of {type_name}{hint}")
            continue
        if value is None:
            continue
        try:
            values[name] = parsers[name](value)
        except ValueError as err:
            problems.append(f"settings.{key}: {err}")
    # A bad value of a setting that has one gives the default, so every problem is collected.
    values = {name: value for name, value in values.items() if value is not None}
    return settings_class(**values), problems
