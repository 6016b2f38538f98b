"""Who may do what, and how much of the shared server one user may hold.

Configured under `server.manager.policy`:

    policy:
      deploy_roles: user,admin        # roles that may deploy Methods through the API
      limits:                         # per role; absent or 0 = no limit
        user: {active_executions: 20, import_bytes: 268435456,
               stored_bytes: 10737418240, method_versions: 200, created_jobs: 100}

Roles are `user` and `admin` (from the token) and `anonymous`, the single trusted user of a
server without auth, who is held to the admin's rules. Which roles may run deployed or
imported Methods on an Infrastructure is the Infrastructure's own `access` (see model.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccp import errors
from ccp.auth import ADMIN_ROLE, ANONYMOUS_ROLE, Requester
from ccp.model import ROLES, Infrastructure

RETRY_AFTER_SECONDS = 30


@dataclass(frozen=True)
class RoleLimits:
    active_executions: int = 0  # accepted + running
    import_bytes: int = 0  # one imported archive
    stored_bytes: int = 0  # all stored archives of one user
    method_versions: int = 0  # all versions of the Methods one user deployed
    created_jobs: int = 0  # Part 4 jobs created and not started yet

    @classmethod
    def from_config(cls, config: Any, where: str) -> RoleLimits:
        if config in (None, ""):
            return cls()
        if not isinstance(config, dict):
            raise ValueError(f"{where} must be a mapping of limits")
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(config) - known)
        if unknown:
            raise ValueError(f"{where}: unknown limit(s) {', '.join(unknown)} "
                             f"(known: {', '.join(sorted(known))})")
        values = {}
        for key, value in config.items():
            try:
                values[key] = max(0, int(value or 0))
            except (TypeError, ValueError) as err:
                raise ValueError(f"{where}.{key} must be a whole number, got {value!r}") from err
        return cls(**values)


@dataclass(frozen=True)
class Policy:
    deploy_roles: frozenset[str] = frozenset(ROLES)
    limits: dict[str, RoleLimits] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Policy:
        config = config or {}
        roles = config.get("deploy_roles", ",".join(ROLES))
        if isinstance(roles, str):
            roles = [role.strip() for role in roles.split(",") if role.strip()]
        unknown = sorted(set(roles) - set(ROLES))
        if unknown:
            raise ValueError(f"policy.deploy_roles: unknown role(s) {', '.join(unknown)}")
        limits = {role: RoleLimits.from_config((config.get("limits") or {}).get(role),
                                               f"policy.limits.{role}")
                  for role in ROLES}
        return cls(frozenset(roles) | {ANONYMOUS_ROLE}, limits)

    def rules_role(self, requester: Requester) -> str:
        """Without auth there is one trusted user, held to the admin's rules."""
        return ADMIN_ROLE if requester.role == ANONYMOUS_ROLE else requester.role

    def limits_of(self, requester: Requester) -> RoleLimits:
        return self.limits.get(self.rules_role(requester), RoleLimits())

    def check_may_deploy(self, requester: Requester) -> None:
        if self.rules_role(requester) not in self.deploy_roles:
            raise errors.NotAllowedHere(
                f"the role '{requester.role}' may not deploy Methods on this server "
                f"(allowed: {', '.join(sorted(self.deploy_roles - {ANONYMOUS_ROLE}))})")

    def check_may_run_user_method(self, requester: Requester,
                                  infrastructure: Infrastructure) -> None:
        """A deployed or imported Method is its author's code: it runs only where the
        Infrastructure lets the requester's role run such code."""
        role = self.rules_role(requester)
        if role not in infrastructure.deployed_method_roles:
            allowed = [r for r in infrastructure.deployed_method_roles if r != ANONYMOUS_ROLE]
            raise errors.NotAllowedHere(
                f"infrastructure '{infrastructure.id}' runs deployed or imported Methods only "
                f"for the role(s) {', '.join(allowed) or 'none'}, and you are '{role}': "
                "choose an isolating infrastructure (e.g. docker or lxd)")
