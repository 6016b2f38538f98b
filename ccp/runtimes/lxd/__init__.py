"""The LXD runtime: `client` talks to LXD, `fetch` copies /ccp_data out, `runtime` is the
Runtime itself."""

from ccp.runtimes.lxd.runtime import (
    EXECUTION_KEY,
    LXDRuntime,
    cpu_limits,
    instance_name,
    memory_limit,
)

__all__ = ["EXECUTION_KEY", "LXDRuntime", "cpu_limits", "instance_name", "memory_limit"]
