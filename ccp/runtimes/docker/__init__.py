"""The Docker runtime: `engine` talks to the engine, `execs` runs scripts in containers,
`runtime` is the Runtime itself (and the base of the swarm runtime)."""

from ccp.runtimes.docker.runtime import (
    CAPABILITIES,
    KEEP_ALIVE,
    RUNTIME_LABEL,
    SWARM_SERVICE_LABEL,
    DockerRuntime,
    runs_as_root,
)

__all__ = ["CAPABILITIES", "KEEP_ALIVE", "RUNTIME_LABEL", "SWARM_SERVICE_LABEL",
           "DockerRuntime", "runs_as_root"]
