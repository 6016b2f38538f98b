"""Runtimes by Infrastructure type; modules for engines are imported only when used."""

from __future__ import annotations

import importlib

from ccp.model import Infrastructure
from ccp.runtimes.base import Runtime

RUNTIME_CLASSES = {
    "local": "ccp.runtimes.local:LocalRuntime",
    "docker": "ccp.runtimes.docker:DockerRuntime",
    "swarm": "ccp.runtimes.swarm:SwarmRuntime",
    "lxd": "ccp.runtimes.lxd:LXDRuntime",
}


def runtime_for(infrastructure: Infrastructure) -> Runtime:
    module_name, class_name = RUNTIME_CLASSES[infrastructure.type].split(":")
    runtime_class = getattr(importlib.import_module(module_name), class_name)
    return runtime_class(infrastructure)
