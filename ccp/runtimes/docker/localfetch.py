"""Fetch of /ccp_data from a stopped container's own layer, when its engine is on this host.

`get_archive` costs the engine a mount of the container's whole root file system (about
50-100 ms, a quarter of a warm execution, and engine CPU that N containers at once share).
A run-once container has stopped when its data is fetched, and with the overlay2 driver its
changes are files in its upper directory on the host. When /ccp_data is in none of the
image's layers (the usual case: the scripts make it), that upper directory holds all of it,
exactly as the container saw it, and copying it from there gives what the engine's archive
would give, through the same tar filter (tarcopy.extract_spooled). Symbolic links are
stored as links, never followed: nothing outside /ccp_data is read. Only a stopped container
qualifies (no process of it can change the files while they are read); otherwise, or on a
remote engine, another storage driver, or a /ccp_data that is itself a link, the runtime asks
the engine as before.
"""

from __future__ import annotations

import os
import tarfile
from pathlib import Path
from typing import Any

import docker.errors

from ccp.runtimes import tarcopy
from ccp.runtimes.base import DATA_PATH
from ccp.runtimes.docker.engine import DockerEngine


def upper_data_dir(attrs: dict[str, Any]) -> Path | None:
    """Where /ccp_data of the container inspected as `attrs` is on this host, if reading it
    there is the same as asking the engine; None otherwise."""
    state = attrs.get("State") or {}
    driver = attrs.get("GraphDriver") or {}
    if state.get("Running") or state.get("Pid") or driver.get("Name") != "overlay2":
        return None
    data = driver.get("Data") or {}
    upper = data.get("UpperDir")
    if not upper or not os.path.isdir(upper):
        return None  # not on this host (or not visible to this server)
    name = DATA_PATH.strip("/")
    lowers = [lower for lower in (data.get("LowerDir") or "").split(":") if lower]
    if any(os.path.lexists(os.path.join(lower, name)) for lower in lowers):
        return None  # the image has some of it: only the engine merges the layers
    return Path(upper) / name


def copy_out(attrs: dict[str, Any], target: Path) -> list[str] | None:
    """Copy the container's /ccp_data into `target` from its layer; returns the members
    left out, or None when the engine must be asked instead."""
    source = upper_data_dir(attrs)
    if source is None:
        return None
    if not os.path.lexists(source):
        target.mkdir(parents=True, exist_ok=True)
        return [f"{DATA_PATH} does not exist"]
    if source.is_symlink() or not source.is_dir():
        return None  # the engine resolves it inside the container
    with tarcopy.spool_for(target) as spool:
        with tarfile.open(fileobj=spool, mode="w") as tar:
            tar.add(source, arcname=".")  # links stored as links (dereference=False)
        return tarcopy.extract_spooled(spool, target)


def copy_data(engine: DockerEngine, container_id: str, target: Path,
              stopped: bool = False) -> list[str]:
    """Copy the container's /ccp_data into `target`: from its layer when it has `stopped`
    and that gives the same (copy_out), else from the engine; returns the members left
    out."""
    with engine.errors(f"copying {DATA_PATH}"):
        if stopped:
            try:
                attrs = engine.api.inspect_container(container_id)
            except docker.errors.NotFound:
                attrs = {}
            copied = copy_out(attrs, target) if attrs else None
            if copied is not None:
                return copied
        try:
            stream, _ = engine.api.get_archive(container_id, DATA_PATH + "/.")
        except docker.errors.NotFound:
            target.mkdir(parents=True, exist_ok=True)
            return [f"{DATA_PATH} does not exist"]
        return tarcopy.extract(stream, target)
