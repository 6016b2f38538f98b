"""Optional bearer-JWT authentication (HS256 secret or RS256 keys from a JWKS URL or file).

Configured under `server.auth` in pygeoapi-config.yml. With auth on, every request but the
landing page, conformance and OpenAPI needs a valid token; a user sees only their own
Executions, an admin (a configurable claim/role) sees all.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jwt

from ccp import errors
from ccp.values import as_bool

ANONYMOUS_ROLE, USER_ROLE, ADMIN_ROLE = "anonymous", "user", "admin"
PUBLIC_PATHS = ("/", "/conformance", "/openapi")
# The /ui/ pages are shells without data: their scripts call the API with the user's token.
PUBLIC_PREFIXES = ("/static/", "/ui/")
# Routes that check who is asking themselves: /metrics also takes a scrape token, not a JWT.
SELF_CHECKED_PATHS = ("/metrics",)


@dataclass(frozen=True)
class Requester:
    """Who is asking: the subject of a valid token, or the one trusted user when auth is off."""

    subject: str | None
    role: str
    contexts: frozenset[str] = frozenset()
    claims: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def sees_everything(self) -> bool:
        """Admins, and the single trusted user of a server without auth, see all jobs."""
        return self.role != USER_ROLE

    @property
    def owner_filter(self) -> str | None:
        """The owner whose jobs this requester may see; None means all of them."""
        return None if self.sees_everything else self.subject

    def may_see_owner(self, owner: str | None) -> bool:
        return self.sees_everything or owner == self.subject


ANONYMOUS = Requester(None, ANONYMOUS_ROLE)


@dataclass
class Authenticator:
    enabled: bool = False
    algorithm: str = "HS256"
    secret: str | None = None
    jwks_url: str | None = None
    jwks_file: str | None = None
    issuer: str | None = None
    audience: str | None = None
    admin_claim: str = "roles"
    admin_role: str = "admin"
    context_claim: str = "context"
    leeway: int = 30
    _jwks_client: Any = field(default=None, repr=False)

    @classmethod
    def from_config(cls, config: dict[str, Any] | None) -> Authenticator:
        config = config or {}
        if not as_bool(config.get("enabled")):
            return cls(enabled=False)
        secret_env = config.get("secret_env", "CCP_JWT_SECRET")
        auth = cls(
            enabled=True,
            algorithm=str(config.get("algorithm", "HS256")),
            secret=os.environ.get(secret_env) or None,
            jwks_url=config.get("jwks_url") or None,
            jwks_file=config.get("jwks_file") or None,
            issuer=config.get("issuer") or None,
            audience=config.get("audience") or None,
            admin_claim=str(config.get("admin_claim", "roles")),
            admin_role=str(config.get("admin_role", "admin")),
            context_claim=str(config.get("context_claim", "context")),
        )
        if auth.algorithm == "HS256" and not auth.secret:
            raise ValueError(f"auth is on with HS256 but ${secret_env} is empty")
        if auth.algorithm == "RS256" and not (auth.jwks_url or auth.jwks_file):
            raise ValueError("auth is on with RS256 but neither jwks_url nor jwks_file is set")
        return auth

    def is_public(self, path: str) -> bool:
        return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)

    def checks_itself(self, path: str) -> bool:
        return path in SELF_CHECKED_PATHS

    def _key(self, token: str) -> Any:
        if self.algorithm == "HS256":
            return self.secret
        if self.jwks_file:
            keys = jwt.PyJWKSet.from_json(Path(self.jwks_file).read_text())
            kid = jwt.get_unverified_header(token).get("kid")
            for key in keys.keys:
                if kid is None or key.key_id == kid:
                    return key.key
            raise jwt.InvalidTokenError(f"no key with kid {kid!r} in the JWKS file")
        if self._jwks_client is None:
            self._jwks_client = jwt.PyJWKClient(str(self.jwks_url), cache_keys=True,
                                                lifespan=300)
        return self._jwks_client.get_signing_key_from_jwt(token).key

    def claims(self, authorization: str | None) -> dict[str, Any]:
        """Validated claims of the bearer token in an Authorization header."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise errors.Unauthorized("a bearer token is required: Authorization: Bearer <JWT>")
        token = authorization.split(None, 1)[1].strip()
        options: jwt.types.Options = {"require": ["exp", "sub"],
                                      "verify_aud": self.audience is not None}
        try:
            claims = jwt.decode(token, self._key(token), algorithms=[self.algorithm],
                                issuer=self.issuer, audience=self.audience,
                                leeway=self.leeway, options=options)
        except jwt.ExpiredSignatureError as err:
            raise errors.Unauthorized("the token has expired") from err
        except (jwt.InvalidTokenError, jwt.PyJWKClientError, ValueError) as err:
            raise errors.Unauthorized(f"invalid token: {err}") from err
        return claims

    def requester(self, authorization: str | None) -> Requester:
        """The Requester behind an Authorization header (ANONYMOUS when auth is off)."""
        if not self.enabled:
            return ANONYMOUS
        claims = self.claims(authorization)
        return Requester(str(claims["sub"]), ADMIN_ROLE if self.is_admin(claims) else USER_ROLE,
                         frozenset(self.contexts(claims)), claims)

    def is_admin(self, claims: dict[str, Any]) -> bool:
        value = claims.get(self.admin_claim)
        if isinstance(value, dict):  # Keycloak realm_access: {"roles": [...]}
            value = value.get("roles")
        if isinstance(value, str):
            value = value.split()
        return isinstance(value, list) and self.admin_role in value

    def contexts(self, claims: dict[str, Any]) -> set[str]:
        value = claims.get(self.context_claim)
        if isinstance(value, str):
            return {value}
        return {str(v) for v in value} if isinstance(value, list) else set()


def archive_claims(claims: dict[str, Any]) -> dict[str, Any]:
    """What the archive keeps of a token: its claims, never the token or its signature."""
    return json.loads(json.dumps(claims, default=str))


def runtime_token(secret: str, job_id: str, subject: str | None, seconds: float) -> str:
    """A short-lived token a runtime may use to call back, scoped to its own execution."""
    now = int(time.time())
    return jwt.encode({"sub": subject or "anonymous", "aud": "ccp-runtime", "job": job_id,
                       "iat": now, "exp": now + int(seconds) + 60}, secret, algorithm="HS256")
