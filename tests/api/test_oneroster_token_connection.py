"""Testing an unsaved OneRoster OAuth 2 config whose token URL refuses connections, through the API."""

from __future__ import annotations

import socket
import time

from starlette.testclient import TestClient

from tests.api.conftest import TENANT_A

SECRET = "api-token-secret-77a2"


def test_test_before_save_answers_with_the_connectors_message_not_a_timeout(
    real_client: TestClient, admin_a: dict[str, str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    config = {
        "baseUrl": "http://127.0.0.1:9/ims/oneroster/v1p1",
        "clientId": "sis-sync",
        "clientSecret": SECRET,
        "auth": "oauth2",
        "tokenUrl": f"http://127.0.0.1:{closed_port}/oauth/token",
    }
    body = {"tenantId": TENANT_A, "providerType": "ONEROSTER_API", "config": config}

    started = time.monotonic()
    response = real_client.post("/api/v1/providers/test", json=body, headers=admin_a)

    assert time.monotonic() - started < 10
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["success"] is False
    assert answer["message"].startswith(
        f"Network failure: could not connect to the OAuth 2 token endpoint 127.0.0.1:{closed_port} "
        "(connection refused)."
    )
    assert SECRET not in response.text
