"""The admin UI's session: the bearer JWT kept in an HttpOnly cookie, and CSRF tokens.

The cookie holds the same token the REST API takes, so a session lasts exactly as long as the
token and carries the same principal. Every form and every fetch() that changes something
sends a CSRF token: an HMAC of a random per-browser nonce (itself an HttpOnly cookie), so a
page on another site can neither read nor forge it. The cookies are SameSite=Strict as well.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
from starlette.requests import Request
from starlette.responses import Response

from libs.auth import Principal
from libs.settings import AppEnv
from services.api.problems import ApiError
from services.api.security import key_of, principal_of
from services.api.services import Services

PREFIX = "/integrations/sis"
SESSION_COOKIE = "sis_session"
NONCE_COOKIE = "sis_csrf"
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class Session:
    principal: Principal
    token: str
    expires_at: int

    @property
    def rate_key(self) -> str:
        return key_of(self.token)


def current(request: Request, services: Services) -> Session | None:
    """The signed-in caller, or None when there is no cookie or its token no longer passes."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    try:
        principal = principal_of(token, services)
    except ApiError:
        return None
    return Session(principal=principal, token=token, expires_at=_expiry(token))


def _expiry(token: str) -> int:
    # the signature was checked by principal_of; this only reads exp back for the cookie's lifetime
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return int(claims.get("exp", 0))


def sign_in(response: Response, request: Request, token: str) -> None:
    max_age = max(0, _expiry(token) - int(time.time()))
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, **_cookie_flags(request))
    # a fresh nonce at sign-in: a token planted in the browser before the login is worthless after it
    response.set_cookie(NONCE_COOKIE, new_nonce(), **_cookie_flags(request))


def sign_out(response: Response, request: Request) -> None:
    for name in (SESSION_COOKIE, NONCE_COOKIE):
        response.delete_cookie(name, path=PREFIX, secure=_secure(request), httponly=True, samesite="strict")


def _secure(request: Request) -> bool:
    # in production always: a proxy that forgets X-Forwarded-Proto must not make the session plain-HTTP
    if request.app.state.settings.app_env is AppEnv.PRODUCTION:
        return True
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def _cookie_flags(request: Request) -> dict[str, Any]:
    return {"path": PREFIX, "httponly": True, "samesite": "strict", "secure": _secure(request)}


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def nonce_of(request: Request) -> str | None:
    return request.cookies.get(NONCE_COOKIE)


def ensure_nonce(request: Request, response: Response, nonce: str) -> None:
    if request.cookies.get(NONCE_COOKIE) != nonce:
        response.set_cookie(NONCE_COOKIE, nonce, **_cookie_flags(request))


def csrf_token(secret: str, nonce: str) -> str:
    return hmac.new(secret.encode(), f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, secret: str, submitted: str | None) -> None:
    nonce = nonce_of(request)
    sent = request.headers.get(CSRF_HEADER) or submitted
    if not nonce or not sent or not hmac.compare_digest(sent, csrf_token(secret, nonce)):
        raise ApiError(
            403, "the form's security token is missing or out of date; reload the page and try again", code="csrf"
        )
