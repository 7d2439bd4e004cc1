"""Webhook management over HTTP: CRUD, tenant isolation, the secret shown once, validation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from tests.api.conftest import TENANT_A, TENANT_B, RecordingClient

HOOK = {"url": "http://127.0.0.1:9/in", "events": ["run.failed", "provider.stale"]}


def _create(client: TestClient, headers: dict[str, str], tenant: str | None = TENANT_A, **body: Any) -> Any:
    path = f"/api/v1/tenants/{tenant}/webhooks" if tenant else "/api/v1/webhooks"
    response = client.post(path, json={**HOOK, **body}, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def test_the_secret_is_shown_on_create_only_and_stored_sealed(
    client: RecordingClient, admin_a: dict[str, str], db: Engine
) -> None:
    created = _create(client, admin_a)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    assert created["tenantId"] == TENANT_A
    assert created["events"] == ["run.failed", "provider.stale"]
    assert created["enabled"] is True
    client.bodies.clear()
    read = client.get(f"/api/v1/webhooks/{created['id']}", headers=admin_a).json()
    listed = client.get(f"/api/v1/tenants/{TENANT_A}/webhooks", headers=admin_a).json()
    changed = client.patch(f"/api/v1/webhooks/{created['id']}", json={"enabled": False}, headers=admin_a).json()
    assert read["secret"] == listed["webhooks"][0]["secret"] == changed["secret"] == "********"
    assert not any(secret.removeprefix("whsec_") in body for body in client.bodies)
    with db.connect() as conn:
        blob = bytes(conn.execute(text("SELECT secret_ciphertext FROM sis_webhooks")).scalar_one())
        audit = conn.execute(text("SELECT action, details::text FROM audit_log ORDER BY id")).all()
    assert secret.removeprefix("whsec_").encode() not in blob
    assert [a.action for a in audit] == ["webhook.created", "webhook.updated"]
    assert not any(secret.removeprefix("whsec_") in a.details for a in audit)


def test_update_delete_and_the_delivery_log(client: TestClient, admin_a: dict[str, str], db: Engine) -> None:
    created = _create(client, admin_a)
    path = f"/api/v1/webhooks/{created['id']}"
    changed = client.patch(path, json={"events": ["run.succeeded"], "url": "https://127.0.0.1/x"}, headers=admin_a)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["events"], changed.json()["url"]) == (["run.succeeded"], "https://127.0.0.1/x")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_webhook_deliveries (webhook_id, message_id, event, attempt, status_code, duration_ms, "
                "error) VALUES (:w, 'msg_1', 'run.failed', 1, 500, 12, 'HTTP 500')"
            ),
            {"w": created["id"]},
        )
    log = client.get(f"{path}/deliveries", headers=admin_a).json()["deliveries"]
    assert [(d["messageId"], d["attempt"], d["statusCode"], d["durationMs"], d["error"]) for d in log] == [
        ("msg_1", 1, 500, 12, "HTTP 500")
    ]
    assert client.delete(path, headers=admin_a).json() == {"id": created["id"], "deleted": True}
    assert client.get(path, headers=admin_a).status_code == 404


def test_enabling_again_forgets_the_failures(client: TestClient, admin_a: dict[str, str], db: Engine) -> None:
    created = _create(client, admin_a)
    with db.begin() as conn:
        conn.execute(text("UPDATE sis_webhooks SET enabled = false, failing_since = now(), disabled_reason = 'x'"))
    again = client.patch(f"/api/v1/webhooks/{created['id']}", json={"enabled": True}, headers=admin_a).json()
    assert (again["enabled"], again["failingSince"], again["disabledReason"]) == (True, None, None)


def test_a_district_admin_sees_and_touches_only_their_own_tenant_s_webhooks(
    client: TestClient, admin_a: dict[str, str], admin_b: dict[str, str], platform: dict[str, str]
) -> None:
    mine = _create(client, admin_a)
    theirs = _create(client, admin_b, TENANT_B)
    everyone = _create(client, platform, None)
    assert client.get(f"/api/v1/tenants/{TENANT_B}/webhooks", headers=admin_a).status_code == 403
    assert client.post(f"/api/v1/tenants/{TENANT_B}/webhooks", json=HOOK, headers=admin_a).status_code == 403
    assert client.get("/api/v1/webhooks", headers=admin_a).status_code == 403
    assert client.post("/api/v1/webhooks", json=HOOK, headers=admin_a).status_code == 403
    for other in (theirs, everyone):
        path = f"/api/v1/webhooks/{other['id']}"
        assert client.get(path, headers=admin_a).status_code == 404
        assert client.patch(path, json={"enabled": False}, headers=admin_a).status_code == 404
        assert client.delete(path, headers=admin_a).status_code == 404
        assert client.get(f"{path}/deliveries", headers=admin_a).status_code == 404
        assert client.post(f"{path}/test", headers=admin_a).status_code == 404
    assert [
        w["id"] for w in client.get(f"/api/v1/tenants/{TENANT_A}/webhooks", headers=admin_a).json()["webhooks"]
    ] == [mine["id"]]
    # the platform admin sees each list apart, and every webhook by id
    assert [w["id"] for w in client.get("/api/v1/webhooks", headers=platform).json()["webhooks"]] == [everyone["id"]]
    assert everyone["tenantId"] is None
    for hook in (mine, theirs, everyone):
        assert client.get(f"/api/v1/webhooks/{hook['id']}", headers=platform).status_code == 200
    assert client.get("/api/v1/webhooks/not-a-uuid", headers=admin_a).status_code == 404


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://example.com/x"}, "url", "http:// or https://"),
        ({"url": "https://user:pw@example.com/x"}, "url", "user name or password"),
        ({"url": "https://example.com:99999/x"}, "url", "invalid port"),
        ({"url": "https://" + "a" * 2050}, "url", "2048"),
        # what the document's pattern refuses past the usual mistakes: no URL a receiver could not be
        ({"url": "https://hooks.example.com/in#part"}, "url", "no fragment"),
        ({"url": "https://hooks example.com/in"}, "url", "no fragment, spaces"),
        ({"url": "https://hooks.example.com/in box"}, "url", "no fragment, spaces"),
        ({"events": []}, "events", "at least 1"),
        ({"events": ["run.exploded"]}, "events.0", "run.succeeded"),
        ({"events": ["run.failed", "run.failed"]}, "events", "twice"),
        ({"enabled": "maybe"}, "enabled", "boolean"),
        ({"secret": "whsec_mine"}, "secret", "Extra inputs"),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    client: TestClient, admin_a: dict[str, str], body: dict[str, Any], field: str, words: str
) -> None:
    response = client.post(f"/api/v1/tenants/{TENANT_A}/webhooks", json={**HOOK, **body}, headers=admin_a)
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert error["field"] == field
    assert words in error["detail"]


def test_the_document_states_what_the_server_accepts(client: TestClient, admin_a: dict[str, str]) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    for name in ("WebhookCreate", "WebhookUpdate"):
        url, events = schemas[name]["properties"]["url"], schemas[name]["properties"]["events"]
        assert events["uniqueItems"] is True
        pattern = re.compile(url["pattern"])
        for good in ("https://hooks.example.com/in?route=sis", "http://[::1]:8080", "https://10.0.0.1/"):
            assert pattern.search(good), good
        for bad in ("", "https://", "https://h.example/#x", "https://user@h.example/", "ftp://h.example/"):
            assert not pattern.search(bad), bad
    # what the pattern accepts, the server does (a query stays part of the URL)
    hook = {**HOOK, "url": "http://127.0.0.1:9/in?route=sis"}
    created = client.post(f"/api/v1/tenants/{TENANT_A}/webhooks", json=hook, headers=admin_a)
    assert created.status_code == 201, created.text
    assert created.json()["url"] == hook["url"]


def test_patch_refuses_null_and_bad_values(client: TestClient, admin_a: dict[str, str]) -> None:
    path = f"/api/v1/webhooks/{_create(client, admin_a)['id']}"
    for body, field in (({"url": None}, "url"), ({"events": None}, "events"), ({"url": "nope"}, "url")):
        response = client.patch(path, json=body, headers=admin_a)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field


def test_send_test_event_queues_a_delivery(
    client: TestClient, admin_a: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    created = _create(client, admin_a)
    sent: list[Any] = []
    monkeypatch.setattr(client.app.state.services.get(), "send", sent.extend)  # type: ignore[attr-defined]
    response = client.post(f"/api/v1/webhooks/{created['id']}/test", headers=admin_a)
    assert response.status_code == 202, response.text
    (message,) = sent
    assert message.args[:2] == (created["id"], response.json()["messageId"])
    assert '"type":"webhook.test"' in message.args[2]
    client.patch(f"/api/v1/webhooks/{created['id']}", json={"enabled": False}, headers=admin_a)
    assert client.post(f"/api/v1/webhooks/{created['id']}/test", headers=admin_a).status_code == 409


def test_the_provider_list_shows_staleness(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    provider = create_provider(options={"alertAfterHours": 12})
    assert provider["options"]["alertAfterHours"] == 12
    assert provider["staleSince"] is None
    with db.begin() as conn:
        conn.execute(text("UPDATE sis_providers SET stale_since = '2026-01-02T03:04:05Z'"))
    listed = client.get(f"/api/v1/tenants/{TENANT_A}/providers", headers=admin_a).json()["providers"]
    assert listed[0]["staleSince"].startswith("2026-01-02T03:04:05")


def test_cancelling_a_pending_run_announces_run_cancelled(
    client: TestClient,
    admin_a: dict[str, str],
    create_provider: Callable[..., dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _create(client, admin_a, events=["run.cancelled"])
    provider = create_provider()
    sent: list[Any] = []
    monkeypatch.setattr(client.app.state.services.get(), "send", sent.extend)  # type: ignore[attr-defined]
    run_id = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a).json()["runId"]
    sent.clear()
    assert client.post(f"/api/v1/providers/{provider['id']}/sync/cancel", headers=admin_a).status_code == 202
    (message,) = sent
    assert message.actor == "sis.webhook_deliver"
    assert '"type":"run.cancelled"' in message.args[2]
    assert f'"runId":"{run_id}"' in message.args[2]
