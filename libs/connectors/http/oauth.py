"""Request authentication for API connectors: OAuth 1.0a signing and OAuth 2 client credentials.

Both are `httpx.Auth` flows, so they see the request exactly as it goes on the wire: an OAuth 1
signature covers every query parameter, and any difference between what was signed and what
was sent is a 401 from the server. The signing itself is oauthlib's (it reproduces ClassLink's
reference signatures byte for byte); nothing here does cryptography by hand.

Neither class ever puts a secret, a signature or a token into an exception message.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import httpx
from oauthlib.oauth1 import SIGNATURE_HMAC_SHA1, SIGNATURE_HMAC_SHA256, SIGNATURE_TYPE_AUTH_HEADER
from oauthlib.oauth1 import Client as OAuth1Client

from libs.connectors.errors import AuthError, NotFoundError, ProtocolError, error_code, short_reason
from libs.text import BEARER_TOKEN_PATTERN

_BEARER_TOKEN = re.compile(BEARER_TOKEN_PATTERN).fullmatch
_SIGNATURE_METHODS = {"HMAC-SHA256": SIGNATURE_HMAC_SHA256, "HMAC-SHA1": SIGNATURE_HMAC_SHA1}


class OAuth1Signer(httpx.Auth):
    """Two-legged OAuth 1.0a (no token): consumer key + secret sign each request.

    `nonce` and `timestamp` are fixed only by tests that compare against a known signature.
    """

    def __init__(
        self,
        client_key: str,
        client_secret: str,
        *,
        signature_method: str = "HMAC-SHA256",
        nonce: str | None = None,
        timestamp: str | None = None,
    ) -> None:
        if signature_method not in _SIGNATURE_METHODS:
            raise ValueError(f"unsupported OAuth 1 signature method {signature_method!r}")
        self._key = client_key
        self._secret = client_secret
        self._method = _SIGNATURE_METHODS[signature_method]
        self._nonce = nonce
        self._timestamp = timestamp

    def authorization(self, method: str, url: str) -> str:
        """The Authorization header value for one request (`url` exactly as it will be sent)."""
        client = OAuth1Client(
            self._key,
            client_secret=self._secret,
            signature_method=self._method,
            signature_type=SIGNATURE_TYPE_AUTH_HEADER,
            nonce=self._nonce,
            timestamp=self._timestamp,
        )
        _, headers, _ = client.sign(url, http_method=method.upper())  # type: ignore[arg-type]
        return str(headers["Authorization"])

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self.authorization(request.method, str(request.url))
        yield request


@dataclass(frozen=True)
class Token:
    value: str
    # monotonic time after which the token must not be used any more (None: until refused)
    refresh_at: float | None


def parse_token_response(response: httpx.Response, token_url: str, *, now: float, secret: str = "") -> Token:
    """A client-credentials answer as a Token, or the typed error an admin can act on.

    `secret` is masked wherever the server's error text quotes it back.
    """
    status = response.status_code
    if status in (400, 401, 403):
        code = _json_field(response, "error")
        reason = " ".join(p for p in (f"HTTP {status}", error_code(_clean(code, secret))) if p)
        description = _clean(_json_field(response, "error_description"), secret)
        if description:
            reason = f"{reason}: {description}"
        if code in (None, "invalid_client", "unauthorized_client"):
            raise AuthError(f"The token endpoint {token_url} refused the client id and secret ({reason})")
        # invalid_scope, unsupported_grant_type...: the credentials may be fine, the request is not
        raise AuthError(f"The token endpoint {token_url} refused the token request ({reason})")
    if status in (404, 405):
        raise NotFoundError(f"No OAuth 2 token endpoint at {token_url} (HTTP {status}); check tokenUrl")
    if status != 200:
        raise ProtocolError(f"The token endpoint {token_url} answered HTTP {status}")
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(f"The token endpoint {token_url} did not answer JSON") from None
    value = body.get("access_token") if isinstance(body, dict) else None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"The token endpoint {token_url} answered without an access_token")
    if not _BEARER_TOKEN(value):
        # it could not go into an Authorization header (RFC 6750 b64token: ASCII only)
        raise ProtocolError(f"The token endpoint {token_url} issued an access_token that is no bearer token")
    token_type = str(body.get("token_type") or "bearer").lower()
    if token_type != "bearer":  # noqa: S105 - a token type name, not a secret
        raise ProtocolError(f"The token endpoint {token_url} issued a {token_type!r} token, not a bearer token")
    expires_in = body.get("expires_in")
    try:
        lifetime = float(expires_in) if expires_in is not None else None
    except (TypeError, ValueError):
        lifetime = None
    if lifetime is None or lifetime <= 0:
        return Token(value, None)
    # refresh a little early so a token never expires between being read and being checked
    margin = min(60.0, lifetime * 0.1)
    return Token(value, now + lifetime - margin)


def _clean(text: str | None, secret: str) -> str:
    """Server-supplied text fit for a message: one line, short, never quoting the secret."""
    return short_reason(text, secret=secret)


def _json_field(response: httpx.Response, name: str) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, str) else None


class ClientCredentials(httpx.Auth):
    """OAuth 2 client-credentials bearer tokens, cached, refreshed before expiry and after a 401.

    `fetch` obtains a fresh Token (it owns the POST to the token endpoint and its retries).
    One instance is shared by the threads of one connector; a refresh happens once for all.
    """

    def __init__(self, fetch: Callable[[], Token], *, clock: Callable[[], float] = time.monotonic) -> None:
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None
        self.tokens_issued = 0

    def token(self, *, refused: str | None = None) -> str:
        with self._lock:
            current = self._token
            stale = current is None or current.value == refused
            if current is not None and current.refresh_at is not None and self._clock() >= current.refresh_at:
                stale = True
            if stale:
                current = self._fetch()
                self._token = current
                self.tokens_issued += 1
            assert current is not None
            return current.value

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        value = self.token()
        request.headers["Authorization"] = f"Bearer {value}"
        response = yield request
        if response.status_code == 401:
            # revoked or expired early: one fresh token, one more try; a second 401 is the answer
            request.headers["Authorization"] = f"Bearer {self.token(refused=value)}"
            yield request


def token_request_data(scope: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    return data


__all__ = ["ClientCredentials", "OAuth1Signer", "Token", "parse_token_response", "token_request_data"]
