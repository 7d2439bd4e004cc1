"""The API with the connectors this build really has (no stand-ins): real config shapes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.connectors import registry
from libs.enums import ProviderType
from tests.api.conftest import TENANT_A

PASSWORD = "SFTP-REAL-PASSWORD-91f0"
FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"

pytestmark = pytest.mark.skipif(
    ProviderType.ONEROSTER_CSV not in registry.supported_types(), reason="no OneRoster CSV connector in this build"
)


def _csv_body(**sftp: Any) -> dict[str, Any]:
    return {
        "tenantId": TENANT_A,
        "providerType": "ONEROSTER_CSV",
        "name": "Nightly CSV",
        "config": {
            "sftp": {
                "host": "127.0.0.1",
                "port": 1,
                "username": "sis-sync",
                "password": PASSWORD,
                "hostKeyFingerprint": FINGERPRINT,
                "connectTimeout": 2,
                **sftp,
            },
            "remotePath": "/exports/oneroster",
        },
        "syncSchedule": "weekdays",
        "scheduleTimezone": "America/Denver",
    }


def test_oneroster_csv_provider_round_trip_masks_every_declared_secret(
    real_client: TestClient, admin_a: dict[str, str], db: Engine
) -> None:
    created = real_client.post("/api/v1/providers", json=_csv_body(), headers=admin_a)
    assert created.status_code == 201, created.text
    sftp = created.json()["config"]["sftp"]
    assert sftp["password"] == "********"
    assert sftp["hasPassword"] is True
    assert sftp["hasPrivateKey"] is False
    assert sftp["hasPrivateKeyPassphrase"] is False
    assert sftp["hostKeyFingerprint"] == FINGERPRINT
    # the UI sends the masked config back with a new timeout (no destination): the password is kept
    config = created.json()["config"]
    config["sftp"]["connectTimeout"] = 5
    provider_id = created.json()["id"]
    changed = real_client.patch(f"/api/v1/providers/{provider_id}", json={"config": config}, headers=admin_a)
    assert changed.status_code == 200, changed.text
    with db.connect() as conn:
        blob = conn.execute(
            text("SELECT config_ciphertext FROM sis_providers WHERE id = :id"), {"id": provider_id}
        ).scalar_one()
    stored = real_client.app.state.services.get().cipher.decrypt(blob, provider_id=provider_id)  # type: ignore[attr-defined]
    assert stored["sftp"]["password"] == PASSWORD
    assert stored["sftp"]["connectTimeout"] == 5
    assert PASSWORD not in changed.text + created.text


def test_oneroster_csv_validation_names_the_nested_field(real_client: TestClient, admin_a: dict[str, str]) -> None:
    response = real_client.post(
        "/api/v1/providers", json=_csv_body(hostKeyFingerprint="not-a-fingerprint"), headers=admin_a
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "config.sftp.hostKeyFingerprint"
    assert PASSWORD not in response.text


def test_connection_test_to_an_unreachable_sftp_server_fails_cleanly(
    real_client: TestClient, admin_a: dict[str, str]
) -> None:
    body = _csv_body()
    response = real_client.post(
        "/api/v1/providers/test",
        json={k: body[k] for k in ("tenantId", "providerType", "config")},
        headers=admin_a,
    )
    assert response.status_code == 200
    assert response.json()["success"] is False
    assert response.json()["message"]
    assert PASSWORD not in response.text


def test_connection_test_of_a_local_package_reads_it(
    real_client: TestClient, admin_a: dict[str, str], shared_data: Path
) -> None:
    package = shared_data / "oneroster" / "moodle-enrol_oneroster" / "Test_minimal_data_set"
    body = {"tenantId": TENANT_A, "providerType": "ONEROSTER_CSV", "config": {"localPath": str(package)}}
    response = real_client.post("/api/v1/providers/test", json=body, headers=admin_a)
    assert response.status_code == 200
    assert response.json()["success"] is True, response.json()
