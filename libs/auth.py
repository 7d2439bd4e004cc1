"""Bearer tokens: HS256 JWTs with `sub`, `roles`, `tenant_id` and `exp` claims."""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import jwt

# the default of AUTH_JWT_MAX_TTL_SECONDS
MAX_TTL_SECONDS = 86_400


class Role(StrEnum):
    DISTRICT_ADMIN = "DISTRICT_ADMIN"
    PLATFORM_ADMIN = "PLATFORM_ADMIN"


class TokenError(Exception):
    """The token is missing, malformed, expired, or not signed by us."""


@dataclass(frozen=True)
class Principal:
    subject: str
    roles: frozenset[str]
    tenant_id: str | None

    @property
    def is_platform_admin(self) -> bool:
        return Role.PLATFORM_ADMIN in self.roles

    @property
    def is_district_admin(self) -> bool:
        return Role.DISTRICT_ADMIN in self.roles

    def can_access_tenant(self, tenant_id: str) -> bool:
        if self.is_platform_admin:
            return True
        return self.is_district_admin and self.tenant_id is not None and self.tenant_id == tenant_id


def mint_token(
    secret: str,
    *,
    subject: str,
    roles: list[str],
    tenant_id: str | None,
    ttl_seconds: int = 12 * 3600,
    issuer: str | None = None,
    audience: str | None = None,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": subject, "roles": roles, "iat": now, "exp": now + ttl_seconds}
    if tenant_id is not None:
        claims["tenant_id"] = tenant_id
    if issuer:
        claims["iss"] = issuer
    if audience:
        claims["aud"] = audience
    return jwt.encode(claims, secret, algorithm="HS256")


def decode_token(
    token: str,
    secret: str,
    *,
    issuer: str | None = None,
    audience: str | None = None,
    max_ttl_seconds: int = MAX_TTL_SECONDS,
) -> Principal:
    """The principal of a valid token; TokenError otherwise.

    A token must expire (`exp`), and within `max_ttl_seconds` (AUTH_JWT_MAX_TTL_SECONDS): a
    stolen token must not stay good for months. `exp - iat` is checked too, so a token claiming
    a long life is refused even early on; pyjwt refuses an `iat` in the future.
    """
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            issuer=issuer,
            audience=audience,
            options={"require": ["exp", "sub"], "verify_aud": audience is not None},
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise TokenError(f"invalid token: {exc}") from None
    exp = float(claims["exp"])
    if exp - time.time() > max_ttl_seconds or ("iat" in claims and exp - float(claims["iat"]) > max_ttl_seconds):
        raise TokenError(f"invalid token: its lifetime is longer than the allowed {max_ttl_seconds} seconds")
    roles = claims.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise TokenError("invalid token: 'roles' must be a list of strings")
    tenant = claims.get("tenant_id")
    if tenant is not None and not isinstance(tenant, str):
        raise TokenError("invalid token: 'tenant_id' must be a string")
    return Principal(subject=str(claims["sub"]), roles=frozenset(roles), tenant_id=tenant)
