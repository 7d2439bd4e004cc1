"""A district admin points a connection test, through the real API, at the service's own machine.

The app runs with a production egress policy (ALLOW_PRIVATE_PROVIDER_HOSTS off); the listener
on loopback stands for an internal service. The engine builds its connectors through the same
settings (libs/etl/providers.py `connector_for`), checked last.
"""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

from starlette.testclient import TestClient

from libs.enums import ProviderType, SyncMode
from libs.etl.details import RunOptions
from libs.etl.options import ProviderOptions
from libs.etl.providers import RunProvider, connector_for
from libs.settings import Settings
from tests.security.conftest import TENANT, Listener, connection_test

FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
SECRET = "egress-secret-5d1c"


def oneroster(host: str, port: int) -> dict[str, Any]:
    return {"baseUrl": f"http://{host}:{port}/ims/oneroster/v1p1", "clientId": "c", "clientSecret": SECRET}


def test_an_unsaved_connection_test_at_loopback_is_refused_and_never_connects(
    api: TestClient, admin: dict[str, str], listener: Listener
) -> None:
    answer = connection_test(api, admin, "ONEROSTER_API", oneroster("127.1", listener.port))

    assert answer["success"] is False
    assert answer["message"] == "127.1 resolves to a loopback address, which providers may not reach"
    assert listener.connections() == 0


def test_a_saved_provider_edited_to_point_at_loopback_is_refused_and_never_connects(
    api: TestClient, admin: dict[str, str], listener: Listener, fake_dns: Any
) -> None:
    fake_dns.answers["sis.district.example"] = ["93.184.215.14"]
    body = {
        "tenantId": TENANT,
        "providerType": "ONEROSTER_API",
        "name": "SIS",
        "config": {
            "baseUrl": "https://sis.district.example/ims/oneroster/v1p1",
            "clientId": "c",
            "clientSecret": SECRET,
        },
    }
    created = api.post("/api/v1/providers", json=body, headers=admin)
    assert created.status_code == 201, created.text
    provider_id = created.json()["id"]

    edited = {"config": oneroster("0x7f.1", listener.port)}
    response = api.post(f"/api/v1/providers/{provider_id}/test", json=edited, headers=admin)

    assert response.status_code == 200, response.text
    assert response.json()["message"] == "0x7f.1 resolves to a loopback address, which providers may not reach"
    assert listener.connections() == 0


def test_an_sftp_connection_test_at_loopback_is_refused_and_never_connects(
    api: TestClient, admin: dict[str, str], listener: Listener
) -> None:
    config = {
        "sftp": {
            "host": "::ffff:127.0.0.1",
            "port": listener.port,
            "username": "u",
            "password": SECRET,
            "hostKeyFingerprint": FINGERPRINT,
        },
        "remotePath": "/exports",
    }
    answer = connection_test(api, admin, "ONEROSTER_CSV", config)

    assert answer["success"] is False
    assert answer["message"] == (
        "::ffff:127.0.0.1 resolves to an IPv4-mapped form of a loopback address, which providers may not reach"
    )
    assert listener.connections() == 0


def test_the_engine_builds_its_connectors_under_the_same_policy(
    policy_on: Settings, listener: Listener, tmp_path: Any
) -> None:
    provider = RunProvider(
        run_id=uuid.uuid4(),
        provider_id=uuid.uuid4(),
        tenant_id=TENANT,
        provider_type=ProviderType.ONEROSTER_API,
        config_ciphertext=b"",
        options=ProviderOptions(),
        cursor={},
        mode=SyncMode.FULL,
        run_options=RunOptions(),
    )
    settings = policy_on.model_copy(update={"data_dir": tmp_path})
    connector = connector_for(
        SimpleNamespace(settings=settings, redis=None),  # type: ignore[arg-type]
        provider,
        oneroster("2130706433", listener.port),
    )
    try:
        assert connector.context.sftp_key_dir == settings.sftp_key_dir
        result = connector.test_connection()
    finally:
        connector.close()

    assert result.message == "2130706433 resolves to a loopback address, which providers may not reach"
    assert listener.connections() == 0
