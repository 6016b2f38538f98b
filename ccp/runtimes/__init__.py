"""The Infrastructure types CCP knows: one table, type -> runtime class + settings class.

A runtime's module is imported only when a runtime of that type is made (the engines' client
libraries are heavy); the settings classes are plain dataclasses, read when descriptors load.
Adding a runtime is one line here, one settings class and one module: the model's type check,
the OpenAPI document and the contract tests read this table.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ccp.runtimes.settings import (
    DockerSettings,
    LocalSettings,
    LXDSettings,
    Settings,
    SwarmSettings,
)

if TYPE_CHECKING:
    from ccp.model import Infrastructure
    from ccp.runtimes.base import Runtime


@dataclass(frozen=True)
class RuntimeType:
    runtime: str  # dotted path of the Runtime class
    settings: type[Settings]

    def load(self) -> type[Runtime]:
        module_name, class_name = self.runtime.rsplit(".", 1)
        return getattr(importlib.import_module(module_name), class_name)


RUNTIME_TYPES: dict[str, RuntimeType] = {
    "local": RuntimeType("ccp.runtimes.local.LocalRuntime", LocalSettings),
    "docker": RuntimeType("ccp.runtimes.docker.DockerRuntime", DockerSettings),
    "swarm": RuntimeType("ccp.runtimes.swarm.SwarmRuntime", SwarmSettings),
    "lxd": RuntimeType("ccp.runtimes.lxd.LXDRuntime", LXDSettings),
}


def runtime_for(infrastructure: Infrastructure) -> Runtime:
    return RUNTIME_TYPES[infrastructure.type].load()(infrastructure)
