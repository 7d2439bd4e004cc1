"""Webhook URLs obey the provider egress policy: refused on save, and again at each delivery."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.db.dev_secrets import config_cipher
from libs.settings import Settings
from libs.webhooks import deliver, events, store
from tests.security.conftest import TENANT, Connects, FakeDns, Listener


@pytest.mark.parametrize(
    ("url", "answer"),
    [
        ("http://hooks.district.example/in", ["10.0.0.5"]),
        ("https://metadata.example/", ["169.254.169.254"]),
        ("http://127.0.0.1:9/", None),
        ("http://[::ffff:127.0.0.1]:9/", None),
        ("http://0x7f.1:9/", None),
    ],
)
def test_a_webhook_on_a_private_address_is_refused_on_create(
    api: TestClient, admin: dict[str, str], fake_dns: FakeDns, url: str, answer: list[str] | None, db: Engine
) -> None:
    if answer is not None:
        fake_dns.answers[url.split("/")[2]] = answer
    response = api.post(
        f"/api/v1/tenants/{TENANT}/webhooks", json={"url": url, "events": ["run.failed"]}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert "webhooks may not reach" in response.json()["errors"][0]["detail"]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sis_webhooks")).scalar_one() == 0


def test_a_name_that_turns_private_after_saving_is_refused_at_delivery_without_a_connection(
    api: TestClient, admin: dict[str, str], fake_dns: FakeDns, connects: Connects, policy_on: Settings, db: Engine
) -> None:
    fake_dns.answers["hooks.district.example"] = ["93.184.216.34"]
    created = api.post(
        f"/api/v1/tenants/{TENANT}/webhooks",
        json={"url": "https://hooks.district.example/in", "events": ["run.failed"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    fake_dns.answers["hooks.district.example"] = ["10.1.2.3"]  # rebinding after the check
    body = events.payload("run.failed", {"tenantId": TENANT})
    attempt = deliver.deliver(db, config_cipher(policy_on), policy_on, created.json()["id"], "msg_1", body)
    assert attempt is not None
    assert attempt.retry_in is None  # a refusal is not retried
    assert [t for t in connects.targets if t[1] == 443] == []  # (Redis of the rate limiter aside)
    with db.connect() as conn:
        logged = store.deliveries(conn, created.json()["id"], limit=5)
    assert [(d["attempt"], d["status_code"]) for d in logged] == [(1, None)]
    assert "resolves to a private address" in str(logged[0]["error"])


def test_loopback_is_reached_only_when_private_hosts_are_allowed(
    db: Engine, policy_on: Settings, listener: Listener, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(deliver, "TIMEOUT", httpx.Timeout(0.5))
    cipher = config_cipher(policy_on)
    with db.begin() as conn:
        row, _ = store.create(
            conn,
            cipher,
            tenant_id=TENANT,
            url=f"http://127.0.0.1:{listener.port}/in",
            events=["run.failed"],
            enabled=True,
        )
    body = events.payload("run.failed", {"tenantId": TENANT})
    refused = deliver.deliver(db, cipher, policy_on, str(row.id), "msg_2", body)
    assert refused is not None
    assert "loopback" in str(refused.error)
    assert listener.connections() == 0
    allowed = policy_on.model_copy(update={"allow_private_provider_hosts": True})
    # the silent listener times the attempt out, but it was let through
    attempt = deliver.deliver(db, cipher, allowed, str(row.id), "msg_3", body)
    assert attempt is not None
    assert attempt.retry_in is not None
    assert listener.connections() == 1
