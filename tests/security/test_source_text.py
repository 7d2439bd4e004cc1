"""What a source said reaches a connection test's message only as an error code and a short reason.

A connection test is answered to whoever chose the URL. Whatever the server on the other side
sends (a long error description, an HTML page, another protocol's banner), the message quotes
at most REASON_LIMIT characters of it.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.egress import EgressPolicy
from libs.connectors.errors import REASON_LIMIT
from libs.connectors.registry import build_connector
from libs.enums import ProviderType

LONG = "internal-detail-" + "A" * 500


def quoted_at_most(message: str, limit: int = REASON_LIMIT) -> None:
    assert "A" * limit not in message, message
    assert len(message) < 400, message


def build(provider: ProviderType, config: dict[str, Any], handler: Any) -> Any:
    context = ConnectorContext(provider_id="p", http_transport=httpx.MockTransport(handler))
    return build_connector(provider, config, context)


def test_an_oauth2_token_error_is_quoted_as_its_code_and_a_short_description() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client", "error_description": LONG})

    config = {
        "baseUrl": "https://sis.example.org/ims/oneroster/v1p1",
        "clientId": "c",
        "clientSecret": "s",
        "auth": "oauth2",
    }
    result = build(ProviderType.ONEROSTER_API, config, handler).test_connection()

    assert "invalid_client" in result.message
    assert "internal-detail-" in result.message
    quoted_at_most(result.message)


def test_an_error_code_that_is_not_one_is_left_out() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, json={"error": "<html>" + LONG})

    config = {
        "baseUrl": "https://sis.example.org/ims/oneroster/v1p1",
        "clientId": "c",
        "clientSecret": "s",
        "auth": "oauth2",
    }
    result = build(ProviderType.ONEROSTER_API, config, handler).test_connection()

    assert "<html>" not in result.message
    quoted_at_most(result.message)


def test_a_oneroster_status_description_is_quoted_short() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = {"statusInfoSet": [{"imsx_codeMajor": "failure", "imsx_description": LONG}]}
        return httpx.Response(403, json=body, headers={"content-type": "text/" + "x" * 300})

    config = {"baseUrl": "https://sis.example.org/ims/oneroster/v1p1", "clientId": "c", "clientSecret": "s"}
    result = build(ProviderType.ONEROSTER_API, config, handler).test_connection()

    assert "internal-detail-" in result.message
    quoted_at_most(result.message)


def test_a_clever_error_message_is_quoted_short() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(418, content=json.dumps({"message": LONG}).encode())

    config = {"accessToken": "t", "districtId": "d1", "apiUrl": "https://api.clever.example"}
    result = build(ProviderType.CLEVER, config, handler).test_connection()

    assert "internal-detail-" in result.message
    quoted_at_most(result.message)


@pytest.fixture
def banner() -> Iterator[int]:
    """A loopback port that answers every request with a long non-HTTP banner and closes."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                conn.recv(65536)  # the request, answered with something that is not HTTP
                conn.sendall(b"SSH-2.0-OpenSSH_9.2 " + LONG.encode() + b"\r\nX: y\r\n\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(5)
    server.close()


def test_another_protocols_banner_is_quoted_short(banner: int) -> None:
    # loopback is allowed here on purpose: the host passed the policy, and still only a short reason shows
    config = {"baseUrl": f"http://127.0.0.1:{banner}/ims/oneroster/v1p1", "clientId": "c", "clientSecret": "s"}
    context = ConnectorContext(provider_id="p", egress=EgressPolicy(allow_private=True))
    connector = build_connector(ProviderType.ONEROSTER_API, config, context)
    try:
        result = connector.test_connection()
    finally:
        connector.close()

    assert result.success is False
    assert "SSH-2.0-OpenSSH_9.2 internal-detail-" in result.message
    quoted_at_most(result.message)
