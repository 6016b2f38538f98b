"""warm-launch for the LXD runtime: containers started ahead of any execution.

A warm container is the container an execution would get (image, limits, profiles),
started before there is an execution: `user.ccp.execution` holds a member id `warm-<hex>`,
which `user.ccp.warm.member` repeats, and `user.ccp.warm.*` say which pool and server it
belongs to and when it expires (WarmTag). An execution that takes one sets
`user.ccp.execution` to its own id and its environment as `environment.*` (one PATCH of the
config; LXD applies it to every later exec): from then on it is that execution's container
for Destroy and the orphan clean-up, and no longer a pool member.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from ccp.runtimes.base import WARM_PREFIX, Instance, RuntimeFailure, WarmTag, adopted
from ccp.runtimes.lxd.client import LXDServer

EXECUTION_KEY = "user.ccp.execution"
WARM_KEY = "user.ccp.warm."  # + pool, owner, expires, member
WARM_MEMBER_KEY = WARM_KEY + "member"


class WarmContainers:
    """Mixed into LXDRuntime: launch_warm, adopt, warm_members and image_digest."""

    type: str
    lxd: LXDServer

    # LXDRuntime's (annotations only: a method here would hide the runtime's)
    start_container: Callable[[str, str, dict[str, str], dict[str, str]], Instance]
    _client_of: Callable[[Instance], Any]

    def launch_warm(self, image: str, tag: WarmTag, replicas: int = 1) -> Instance:
        if replicas != 1:
            raise RuntimeFailure("the LXD runtime runs exactly one replica")
        member = f"{WARM_PREFIX}{uuid.uuid4().hex}"
        config = {WARM_KEY + key: value for key, value in tag.labels().items()}
        config[WARM_MEMBER_KEY] = member
        return self.start_container(member, image, {}, config)

    def adopt(self, member: Instance, execution_id: str, env: dict[str, str],
              main_script: str | None = None) -> Instance:
        from pylxd.exceptions import NotFound

        for key, value in env.items():
            if not key or "=" in key or "\0" in key + value:
                raise RuntimeFailure(f"invalid environment variable {key!r}")
        name = member.handle["name"]
        client = self._client_of(member)
        environment = {**env, "ccptaskname": env.get("ccptaskname", execution_id)}
        config = {f"environment.{key}": str(value) for key, value in environment.items()}
        config[EXECUTION_KEY] = execution_id
        action = f"take the warm container {name}"
        try:
            with self.lxd.errors(action):
                response = client.api.instances[name].patch(json={"config": config})
        except RuntimeFailure as err:
            if isinstance(err.__cause__, NotFound):
                raise RuntimeFailure(f"the warm container {name} is gone") from err
            raise
        self.lxd.wait_operation(client, response, action)
        with self.lxd.errors(action):
            status = client.api.instances[name].state.get().json()["metadata"].get("status")
        if status != "Running":
            raise RuntimeFailure(f"the warm container {name} no longer runs ({status})")
        return adopted(member, execution_id, {})

    def warm_members(self) -> list[tuple[Instance, WarmTag]]:
        client = self.lxd.client()
        with self.lxd.errors("list containers"):
            listed = client.api.instances.get(params={"recursion": "1"}).json()["metadata"]
        members = []
        for entry in listed:
            config = entry.get("config") or {}
            member_id = config.get(WARM_MEMBER_KEY)
            tag = WarmTag.from_labels({key.removeprefix(WARM_KEY): value
                                       for key, value in config.items()
                                       if key.startswith(WARM_KEY)})
            if tag and member_id and config.get(EXECUTION_KEY) == member_id:
                members.append((Instance(member_id, self.type, {
                    "name": entry["name"], "project": entry.get("project")}), tag))
        return members

    def image_digest(self, image: str) -> str | None:
        try:
            _source, fingerprint = self.lxd.image_source(self.lxd.client(), image)
        except RuntimeFailure:
            return None
        return f"sha256:{fingerprint}"
