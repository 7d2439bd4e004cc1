"""The one place that builds HTTP clients for provider connectors."""

from __future__ import annotations

import ssl

import httpcore
import httpx

from libs.connectors.egress import STRICT, EgressBackend, EgressPolicy

USER_AGENT = "sis-sync/0.1 (+https://github.com/sis-sync/sis-sync)"

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)


class EgressTransport(httpx.HTTPTransport):
    """httpx's transport whose connections are opened by the egress policy (EgressBackend).

    The policy resolves each host once and connects to the address it checked; TLS still names
    the URL's host (SNI, certificate check) and the Host header is the URL's. No proxy from the
    environment is used: a proxy would resolve the name itself, past the policy.
    """

    def __init__(
        self, policy: EgressPolicy, *, verify: ssl.SSLContext | None = None, deadline: float | None = None
    ) -> None:
        # `verify`: the trust store (default: certifi, or SSL_CERT_FILE / SSL_CERT_DIR)
        ssl_context = verify if verify is not None else httpx.create_ssl_context(trust_env=True)
        super().__init__(verify=ssl_context, limits=_LIMITS)
        self.policy = policy
        # the same pool httpx builds, with the policy's network backend (httpx has no argument for it)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=_LIMITS.max_connections,
            max_keepalive_connections=_LIMITS.max_keepalive_connections,
            keepalive_expiry=_LIMITS.keepalive_expiry,
            network_backend=EgressBackend(policy, deadline),
        )


def build_client(
    base_url: str = "",
    *,
    transport: httpx.BaseTransport | None = None,
    egress: EgressPolicy = STRICT,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    auth: httpx.Auth | None = None,
    deadline: float | None = None,
) -> httpx.Client:
    """An httpx client with our timeouts and user agent, connecting under the egress policy.

    `egress` defaults to the strict policy (private hosts refused); tests pass a transport
    instead of patching, and an injected transport replaces the network entirely.
    `deadline` (time.monotonic()): no socket of the client waits past it (a connection test's end).
    """
    return httpx.Client(
        base_url=base_url,
        transport=transport if transport is not None else EgressTransport(egress, deadline=deadline),
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        timeout=timeout,
        auth=auth,
        follow_redirects=False,
    )
