"""Code that names no egress policy gets the strict one: loopback refused, the listener untouched.

The engine and the API's connection tests pass the settings' policy; a connector context, an
HTTP client or an SFTP session built without one must fail closed, not reach this machine.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.errors import EgressRefused
from libs.connectors.http import build_client
from libs.connectors.registry import build_connector
from libs.connectors.sftp import SftpSettings, connect
from libs.enums import ProviderType
from tests.security.conftest import Listener

FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
REFUSAL = "127.0.0.1 resolves to a loopback address, which providers may not reach"


def sftp_config(port: int) -> dict[str, object]:
    # a guard that failed shows as an SSH handshake timing out on the silent listener
    return {
        "host": "127.0.0.1",
        "port": port,
        "username": "u",
        "password": "p",
        "hostKeyFingerprint": FINGERPRINT,
        "connectTimeout": 0.5,
    }


def test_a_connector_context_without_a_policy_refuses_loopback(listener: Listener, tmp_path: Path) -> None:
    config = {"sftp": sftp_config(listener.port), "remotePath": "/exports"}
    context = ConnectorContext(provider_id="p", tenant_id="t", work_dir=tmp_path)
    result = build_connector(ProviderType.ONEROSTER_CSV, config, context).test_connection()

    assert result.success is False
    assert result.message == REFUSAL
    assert listener.connections() == 0


def test_an_http_client_without_a_policy_refuses_loopback(listener: Listener) -> None:
    with build_client(timeout=httpx.Timeout(0.5)) as client, pytest.raises(EgressRefused, match=REFUSAL):
        client.get(f"http://127.0.0.1:{listener.port}/")

    assert listener.connections() == 0


def test_an_sftp_session_without_a_policy_refuses_loopback(listener: Listener) -> None:
    with pytest.raises(EgressRefused, match=REFUSAL), connect(SftpSettings.model_validate(sftp_config(listener.port))):
        pass

    assert listener.connections() == 0
