"""Who is calling: bearer JWT -> Principal, and what that principal may see.

Only DISTRICT_ADMIN (their own tenant) and PLATFORM_ADMIN (every tenant) get in. A resource of
another tenant answers 404, exactly like one that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import hashlib

from starlette.requests import Request

from libs.auth import Principal, TokenError, decode_token
from services.api.problems import ApiError, not_found
from services.api.services import Services

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sis-sync"'}


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, detail, headers=_CHALLENGE)


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise _unauthorized("missing Authorization: Bearer <token> header")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("Authorization header must be 'Bearer <token>'")
    return token.strip()


def authenticate(request: Request, services: Services) -> Principal:
    return principal_of(bearer_token(request), services)


def token_key(request: Request) -> str:
    """A short stable id of the caller's token, for rate limits (never the token itself)."""
    return key_of(bearer_token(request))


def key_of(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:24]


def principal_of(token: str, services: Services) -> Principal:
    """The caller a token speaks for, with the same role rules as the bearer header."""
    settings = services.settings
    try:
        principal = decode_token(
            token,
            services.jwt_secret,
            issuer=settings.auth_jwt_issuer,
            audience=settings.auth_jwt_audience,
            max_ttl_seconds=settings.auth_jwt_max_ttl_seconds,
        )
    except TokenError as exc:
        raise _unauthorized(str(exc)) from None
    if principal.is_platform_admin:
        return principal
    if principal.is_district_admin:
        if not principal.tenant_id:
            raise ApiError(403, "a DISTRICT_ADMIN token must carry a tenant_id claim")
        return principal
    raise ApiError(403, "this API is for DISTRICT_ADMIN and PLATFORM_ADMIN roles only")


def require_tenant(principal: Principal, tenant_id: str) -> None:
    """For routes that name a tenant in the path or body: the caller named it, 403 leaks nothing."""
    if not principal.can_access_tenant(tenant_id):
        raise ApiError(403, f"this token may not act for tenant {tenant_id!r}")


def require_platform_admin(principal: Principal) -> None:
    if not principal.is_platform_admin:
        raise ApiError(403, "this needs a PLATFORM_ADMIN token")


def check_visible(principal: Principal, tenant_id: str, *, deleted: bool, what: str) -> None:
    """For routes that name a resource by id: another tenant's, or a deleted one, is not found.

    Platform admins still read deleted providers and their history.
    """
    if not principal.can_access_tenant(tenant_id) or (deleted and not principal.is_platform_admin):
        raise not_found(what)
