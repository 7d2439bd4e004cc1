"""The one place that builds HTTP clients for provider connectors."""

from __future__ import annotations

import httpx

USER_AGENT = "sis-sync/0.1 (+https://github.com/sis-sync/sis-sync)"

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def build_client(
    base_url: str = "",
    *,
    transport: httpx.BaseTransport | None = None,
    headers: dict[str, str] | None = None,
    timeout: httpx.Timeout = DEFAULT_TIMEOUT,
    auth: httpx.Auth | None = None,
) -> httpx.Client:
    """An httpx client with our timeouts and user agent; tests pass a transport instead of patching."""
    return httpx.Client(
        base_url=base_url,
        transport=transport,
        headers={"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})},
        timeout=timeout,
        auth=auth,
        follow_redirects=False,
    )
