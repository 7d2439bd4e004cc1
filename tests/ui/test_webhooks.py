"""The webhook pages without a browser: add (secret shown once), validation, actions, the log, isolation."""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.enums import ProviderType
from libs.settings import Settings
from tests.support.providers import create_provider
from tests.ui.conftest import TENANT_A, TENANT_B, sign_in

UI = "/integrations/sis"


def _only_id(db: Engine) -> object:
    with db.connect() as conn:
        return conn.execute(text("SELECT id FROM sis_webhooks")).scalar_one()


def _add(client: TestClient, csrf: str, tenant: str = TENANT_A, url: str = "http://127.0.0.1:9/in") -> str:
    form = {"csrf": csrf, "tenant": tenant, "url": url, "event.run.failed": "true", "event.provider.stale": "true"}
    response = client.post(f"{UI}/webhooks", data=form)
    assert response.status_code == 201, response.text
    return response.text


def test_a_district_admin_adds_a_webhook_and_sees_its_secret_once(
    browser_client: TestClient, mint: Callable[..., str], db: Engine
) -> None:
    csrf = sign_in(browser_client, mint())
    assert f'href="{UI}/webhooks?tenant={TENANT_A}"' in browser_client.get(UI).text
    page = _add(browser_client, csrf)
    secret = re.search(r"<code>(whsec_[A-Za-z0-9+/=]+)</code>", page)
    assert secret is not None
    assert "shown <strong>this once</strong>" in page
    listing = browser_client.get(f"{UI}/webhooks").text
    assert "http://127.0.0.1:9/in" in listing
    assert "run.failed, provider.stale" in listing
    assert secret.group(1) not in listing
    webhook_id = _only_id(db)
    detail = browser_client.get(f"{UI}/webhooks/{webhook_id}").text
    assert "********" in detail
    assert secret.group(1) not in detail


def test_a_bad_url_or_no_event_is_shown_beside_the_form(browser_client: TestClient, mint: Callable[..., str]) -> None:
    csrf = sign_in(browser_client, mint())
    response = browser_client.post(f"{UI}/webhooks", data={"csrf": csrf, "tenant": TENANT_A, "url": "ftp://x/"})
    assert response.status_code == 422
    assert "http:// or https:// URL with a host" in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="ftp://x/"' in response.text


def test_disable_test_event_log_and_delete(browser_client: TestClient, mint: Callable[..., str], db: Engine) -> None:
    csrf = sign_in(browser_client, mint())
    _add(browser_client, csrf)
    webhook_id = _only_id(db)
    sent = browser_client.post(f"{UI}/webhooks/{webhook_id}/test", data={"csrf": csrf})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{UI}/webhooks/{webhook_id}"
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_webhook_deliveries (webhook_id, message_id, event, attempt, status_code, duration_ms, "
                "error) VALUES (:w, 'msg_seen', 'webhook.test', 2, 503, 40, 'HTTP 503')"
            ),
            {"w": webhook_id},
        )
    log = browser_client.get(f"{UI}/webhooks/{webhook_id}").text
    assert "msg_seen" in log
    assert "HTTP 503" in log
    assert "40 ms" in log
    off = browser_client.post(f"{UI}/webhooks/{webhook_id}/enabled", data={"csrf": csrf, "enabled": "false"})
    assert off.status_code == 303
    with db.connect() as conn:
        assert conn.execute(text("SELECT enabled FROM sis_webhooks")).scalar_one() is False
    refused = browser_client.post(f"{UI}/webhooks/{webhook_id}/test", data={"csrf": csrf}, follow_redirects=True)
    assert "the webhook is disabled" in refused.text.lower()
    browser_client.post(f"{UI}/webhooks/{webhook_id}/delete", data={"csrf": csrf})
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sis_webhooks")).scalar_one() == 0


def test_another_tenant_s_webhooks_stay_out_of_reach(
    browser_client: TestClient, mint: Callable[..., str], db: Engine
) -> None:
    other = sign_in(browser_client, mint(tenant=TENANT_B, sub="admin@b"))
    _add(browser_client, other, tenant=TENANT_B)
    webhook_id = _only_id(db)
    browser_client.cookies.clear()
    csrf = sign_in(browser_client, mint())
    assert browser_client.get(f"{UI}/webhooks/{webhook_id}").status_code == 404
    assert browser_client.get(f"{UI}/webhooks?tenant={TENANT_B}").status_code == 403
    assert browser_client.post(f"{UI}/webhooks/{webhook_id}/delete", data={"csrf": csrf}).status_code == 404
    assert browser_client.get(f"{UI}/webhooks?tenant=").status_code == 200  # their own
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sis_webhooks")).scalar_one() == 1


def test_the_integration_list_shows_a_stale_provider(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    sign_in(browser_client, mint())
    assert "Stale since" not in browser_client.get(UI).text
    with db.begin() as conn:
        conn.execute(text("UPDATE sis_providers SET stale_since = '2026-01-02T03:04:05Z'"))
    assert 'Stale since <time datetime="2026-01-02T03:04:05+00:00"' in browser_client.get(UI).text
