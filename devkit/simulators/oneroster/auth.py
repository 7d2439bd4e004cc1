"""Server-side authentication as OneRoster servers do it: OAuth 1.0a signatures, OAuth 2 tokens.

Signatures are checked with oauthlib's verifier over the request exactly as it arrived (the
raw query string), with a timestamp window and nonce replay protection, so a client that signs
one URL and sends another, or re-sends a captured request, gets the 401 a real server gives.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature

# Instructure's guidance to OneRoster servers: allow 10 minutes of clock skew
TIMESTAMP_WINDOW = 600
TOKEN_LIFETIME = 3600


@dataclass
class Credentials:
    client_id: str
    client_secret: str
    _nonces: set[tuple[str, str]] = field(default_factory=set)
    _nonce_order: deque[tuple[int, tuple[str, str]]] = field(default_factory=deque)
    _tokens: dict[str, float] = field(default_factory=dict)

    def verify_oauth1(self, method: str, uri: str, authorization: str) -> str | None:
        """None when the request is properly signed, else why not (for the 401 body)."""
        if not authorization.startswith("OAuth "):
            return "missing OAuth 1.0a Authorization header"
        try:
            collected = signature.collect_parameters(
                uri_query=urlsplit(uri).query, headers={"Authorization": authorization}, exclude_oauth_signature=False
            )
        except ValueError:
            return "malformed OAuth Authorization header"
        fields = {k: v for k, v in collected if k.startswith("oauth_")}
        if fields.get("oauth_consumer_key") != self.client_id:
            return "unknown consumer key"
        method_name = fields.get("oauth_signature_method", "")
        if method_name != "HMAC-SHA256":
            return f"signature method {method_name or 'none'} is not accepted"
        try:
            stamp = int(fields.get("oauth_timestamp", ""))
        except ValueError:
            return "missing oauth_timestamp"
        now = int(time.time())
        if abs(now - stamp) > TIMESTAMP_WINDOW:
            return "oauth_timestamp outside the accepted window"
        request = OAuthRequest(uri, http_method=method.upper(), headers={"Authorization": authorization})  # type: ignore[arg-type]
        # what oauthlib's endpoints set before verifying: every parameter but the signature
        request.params = [(k, v) for k, v in collected if k != "oauth_signature"]  # type: ignore[attr-defined]
        request.signature = fields.get("oauth_signature", "")  # type: ignore[attr-defined]
        if not signature.verify_hmac_sha256(request, self.client_secret):
            return "invalid signature"
        nonce = fields.get("oauth_nonce", "")
        if not nonce or (nonce, str(stamp)) in self._nonces:
            return "oauth_nonce missing or already used"
        self._remember(nonce, stamp, now)
        return None

    def _remember(self, nonce: str, stamp: int, now: int) -> None:
        key = (nonce, str(stamp))
        self._nonces.add(key)
        self._nonce_order.append((now, key))
        while self._nonce_order and self._nonce_order[0][0] < now - 2 * TIMESTAMP_WINDOW:
            self._nonces.discard(self._nonce_order.popleft()[1])

    def issue_token(self, authorization: str, body: bytes) -> tuple[int, dict[str, object]]:
        """The token endpoint: client credentials by HTTP Basic or in the form."""
        form = dict(parse_qsl(body.decode("utf-8", "replace")))
        client_id, client_secret = form.get("client_id"), form.get("client_secret")
        if authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[6:]).decode()
            except (ValueError, UnicodeDecodeError):
                return 401, {"error": "invalid_client"}
            client_id, _, client_secret = decoded.partition(":")
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if client_id != self.client_id or client_secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        token = secrets.token_urlsafe(24)
        self._tokens[token] = time.monotonic() + TOKEN_LIFETIME
        return 200, {"access_token": token, "token_type": "bearer", "expires_in": TOKEN_LIFETIME}

    def verify_bearer(self, authorization: str) -> str | None:
        if not authorization.startswith("Bearer "):
            return "missing bearer token"
        expires = self._tokens.get(authorization[7:])
        if expires is None:
            return "unknown token"
        if expires < time.monotonic():
            return "expired token"
        return None
