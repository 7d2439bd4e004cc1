"""The admin UI's pages and forms without a browser: sessions, CSRF, tenants, forms, errors."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.connectors import registry
from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType
from libs.etl.context import EtlContext
from libs.etl.phase import start_sync
from libs.settings import Settings
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset, MemoryConnector
from tests.support.providers import create_provider
from tests.ui.conftest import LOGIN, TENANT_A, TENANT_B, csrf_of, sign_in

UI = "/integrations/sis"
JSON = {"Accept": "application/json"}


def test_sign_in_sets_an_httponly_samesite_cookie_and_opens_the_tenants_integrations(
    browser_client: TestClient, mint: Callable[..., str]
) -> None:
    page = browser_client.get(LOGIN)
    response = browser_client.post(LOGIN, data={"token": mint(), "csrf": csrf_of(page.text), "next": UI})
    assert response.status_code == 303
    assert response.headers["location"] == UI
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("sis_session="))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" in cookie
    assert "Path=/integrations/sis" in cookie
    listing = browser_client.get(UI)
    assert listing.status_code == 200
    assert f'SIS integrations <span class="muted">{TENANT_A}</span>' in listing.text
    assert "no-store" in listing.headers["cache-control"]
    assert "default-src 'self'" in listing.headers["content-security-policy"]


def test_an_expired_token_or_one_signed_by_someone_else_is_refused_in_words(
    browser_client: TestClient, mint: Callable[..., str]
) -> None:
    csrf = csrf_of(browser_client.get(LOGIN).text)
    expired = browser_client.post(LOGIN, data={"token": mint(ttl=-10), "csrf": csrf})
    assert expired.status_code == 401
    assert "This token cannot be used: token expired." in expired.text
    stale = browser_client.post(LOGIN, data={"token": mint(), "csrf": "0" * 64})
    assert stale.status_code == 403
    assert "The sign-in form had expired" in stale.text
    forged = mint().rsplit(".", 1)[0] + ".AAAA"
    refused = browser_client.post(LOGIN, data={"token": forged, "csrf": csrf})
    assert refused.status_code == 401
    assert "sis_session" not in browser_client.cookies


def test_a_page_without_a_session_sends_the_browser_to_sign_in_and_back(browser_client: TestClient) -> None:
    response = browser_client.get(f"{UI}/providers/{uuid.uuid4()}")
    assert response.status_code == 303
    assert response.headers["location"].startswith(f"{LOGIN}?next=%2Fintegrations%2Fsis%2Fproviders%2F")
    fetched = browser_client.get(f"{UI}/rows?tenant={TENANT_A}", headers=JSON)
    assert fetched.status_code == 401


def test_sign_in_never_redirects_off_the_ui(browser_client: TestClient, mint: Callable[..., str]) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/integrations/sis//evil.example"):
        # each sign-in rotates the CSRF nonce, so each form is fetched anew
        csrf = csrf_of(browser_client.get(LOGIN).text)
        response = browser_client.post(LOGIN, data={"token": mint(), "csrf": csrf, "next": target})
        assert response.headers["location"] == UI


def test_a_form_post_without_the_csrf_token_changes_nothing(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    sign_in(browser_client, mint())
    for headers, data in (({}, {}), ({}, {"csrf": "0" * 64}), ({"X-CSRF-Token": "f" * 64}, {})):
        response = browser_client.post(f"{UI}/providers/{provider_id}/sync", data=data, headers={**headers, **JSON})
        assert response.status_code == 403
        assert "security token" in response.json()["message"]
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sis_sync_runs")).scalar_one() == 0


def test_a_district_admin_never_sees_another_tenants_provider(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    theirs = create_provider(
        db,
        ui_settings,
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": "/x"},
        tenant_id=TENANT_B,
        name="Other district feed",
    )
    csrf = sign_in(browser_client, mint("DISTRICT_ADMIN", TENANT_A))
    assert "Other district feed" not in browser_client.get(UI).text
    page = browser_client.get(f"{UI}/providers/{theirs}")
    assert page.status_code == 404
    assert "Provider not found." in page.text
    assert browser_client.get(f"{UI}?tenant={TENANT_B}").status_code == 403
    sync = browser_client.post(f"{UI}/providers/{theirs}/sync", data={"csrf": csrf}, headers=JSON)
    assert sync.status_code == 404


def test_a_platform_admin_picks_a_tenant_first(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_B
    )
    sign_in(browser_client, mint("PLATFORM_ADMIN", None, sub="ops"))
    picker = browser_client.get(UI)
    assert "Choose a tenant" in picker.text
    assert f'href="{UI}?tenant={TENANT_B}"' in picker.text
    assert "Test provider" in browser_client.get(f"{UI}?tenant={TENANT_B}").text


def test_adding_a_provider_without_javascript_shows_each_error_beside_its_field_and_no_secret(
    browser_client: TestClient, mint: Callable[..., str], db: Engine
) -> None:
    csrf = sign_in(browser_client, mint())
    form = {
        "csrf": csrf,
        "tenantId": TENANT_A,
        "providerType": "ONEROSTER_CSV",
        "name": "Nightly CSV",
        "ONEROSTER_CSV:source": "sftp",
        "ONEROSTER_CSV:config.sftp.host": "sftp.example.org",
        "ONEROSTER_CSV:config.sftp.port": "70000",
        "ONEROSTER_CSV:config.sftp.username": "sis",
        "ONEROSTER_CSV:config.sftp.password": "hunter2-very-secret",
        "ONEROSTER_CSV:config.sftp.hostKeyFingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        "ONEROSTER_CSV:config.remotePath": "exports",
        "schedule": "daily",
        "scheduleTimezone": "America/Chicago",
        "enabled": "true",
        "action": "save",
    }
    response = browser_client.post(f"{UI}/providers/new", data=form)
    assert response.status_code == 422
    html = response.text
    assert 'data-error-for="config.sftp.port">Must be at most 65535.' in html
    assert 'data-error-for="config.remotePath">Must be an absolute path' in html or "must be an absolute path" in html
    assert "hunter2-very-secret" not in html
    assert 'value="sftp.example.org"' in html
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM sis_providers")).scalar_one() == 0


def test_adding_a_provider_tests_the_connection_then_saves_it_with_an_audit_entry(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, tmp_path: Path
) -> None:
    csrf = sign_in(browser_client, mint(sub="admin@a"))
    base = {
        "csrf": csrf,
        "tenantId": TENANT_A,
        "providerType": "ONEROSTER_CSV",
        "name": "Local package",
        "ONEROSTER_CSV:source": "local",
        "ONEROSTER_CSV:config.localPath": str(tmp_path / "missing"),
        "schedule": "custom",
        "cron": "30 5 * * 1-5",
        "scheduleTimezone": "America/Chicago",
        "enabled": "true",
    }
    tested = browser_client.post(f"{UI}/providers/new", data={**base, "action": "test"}, headers=JSON).json()
    assert tested["ok"] is True
    assert tested["test"]["success"] is False
    assert tested["test"]["message"]
    saved = browser_client.post(f"{UI}/providers/new", data={**base, "action": "save"}, headers=JSON).json()
    assert saved["ok"] is True, saved
    assert saved["redirect"].startswith(f"{UI}/providers/")
    with db.connect() as conn:
        row = conn.execute(text("SELECT sync_schedule, schedule_timezone, enabled FROM sis_providers")).one()
        audit = conn.execute(text("SELECT actor, action FROM audit_log")).all()
    assert (row.sync_schedule, row.schedule_timezone, row.enabled) == ("30 5 * * 1-5", "America/Chicago", True)
    assert [(a.actor, a.action) for a in audit] == [("admin@a", "provider.created")]
    details = browser_client.get(saved["redirect"])
    assert "Local package" in details.text
    assert "At 05:30 AM, Monday through Friday" in details.text


def test_the_schedule_preview_lists_the_next_five_runs_in_the_providers_zone(
    browser_client: TestClient, mint: Callable[..., str]
) -> None:
    sign_in(browser_client, mint())
    html = browser_client.get(f"{UI}/schedule-preview?schedule=weekdays&timezone=America/Chicago").text
    assert "Weekdays at 6 AM" in html
    assert html.count("<li>") == 5
    # the one time format: the provider's zone with its abbreviation, the time from now, UTC on hover
    assert len(re.findall(r" 06:00 C[SD]T · in \d+ (?:h|d|min)</time>", html)) == 5
    assert html.count(':00:00 UTC">') == 5
    bad = browser_client.get(f"{UI}/schedule-preview?schedule=custom&cron=61+*+*+*+*&timezone=UTC").text
    assert "five-field numeric cron expression" in bad.lower()
    # the message names the field that is wrong
    assert "the minute field &#39;61&#39; is not valid (0-59)" in bad.lower()


def test_a_runs_page_lists_its_record_errors_and_downloads_them_as_csv(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    run_id = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, started_at, "
                "completed_at, stats, error_message) VALUES (:r, :p, :t, 'PARTIAL', 'manual', true, "
                "now() - interval '75 seconds', now(), CAST(:s AS jsonb), '2 record(s) rejected')"
            ),
            {
                "r": run_id,
                "p": provider_id,
                "t": TENANT_A,
                "s": '{"users": {"received": 9, "created": 7, "errors": 2}}',
            },
        )
        conn.execute(
            text(
                "INSERT INTO sis_sync_errors (run_id, entity_type, external_id, source, line, field, code, message) "
                "VALUES (:r, 'user', 'u-1', 'users.csv', 4, 'email', 'invalid', 'not an email address'), "
                "(:r, 'user', '=cmd()', 'users.csv', 9, 'role', 'invalid', 'unknown role')"
            ),
            {"r": run_id},
        )
    sign_in(browser_client, mint())
    history = browser_client.get(f"{UI}/providers/{provider_id}/history").text
    assert f'href="{UI}/runs/{run_id}/errors">2</a>' in history
    assert "1 min 15 s" in history
    page = browser_client.get(f"{UI}/runs/{run_id}").text
    assert "not an email address" in page
    assert 'Record errors <span class="muted">(2)</span>' in page
    # the banner links to the errors view
    assert f'<a href="{UI}/runs/{run_id}/errors" id="problem-errors-link">See the 2 record errors' in page
    csv = browser_client.get(f"{UI}/runs/{run_id}/errors.csv")
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("id,entityType,externalId")
    assert len(lines) == 3
    assert "'=cmd()" in csv.text  # a formula is defused for spreadsheets


def test_the_errors_view_groups_by_code_and_entity_with_titles_fixes_filters_and_search(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    run_id = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, started_at, "
                "completed_at) VALUES (:r, :p, :t, 'PARTIAL', 'manual', true, now(), now())"
            ),
            {"r": run_id, "p": provider_id, "t": TENANT_A},
        )
        conn.execute(
            text(
                "INSERT INTO sis_sync_errors (run_id, entity_type, external_id, source, line, field, code, message) "
                "VALUES (:r, 'enrollment', 'e-1', 'enrollments.csv', 2, 'user_external_id', 'orphan_reference', "
                "'user_external_id ''u-9'' refers to no user of this feed'), "
                "(:r, 'enrollment', 'e-2', 'enrollments.csv', 3, 'user_external_id', 'orphan_reference', "
                "'user_external_id ''u-8'' refers to no user of this feed'), "
                "(:r, 'enrollment', 'e_3', 'enrollments.csv', 4, 'class_external_id', 'orphan_reference', "
                "'class_external_id ''c-1'' refers to no class of this feed'), "
                "(:r, 'class', 'c-2', 'classes.csv', 5, 'school_external_id', 'orphan_reference', 'no school'), "
                "(:r, 'user', 'u-1', 'users.csv', 6, 'given_name', 'missing_value', 'given_name is required'), "
                "(:r, 'user', 'u-2', 'users.csv', 7, 'role', 'brand_new_code', 'something new')"
            ),
            {"r": run_id},
        )
    sign_in(browser_client, mint())
    api = browser_client.get(f"/api/v1/runs/{run_id}/errors/summary", headers={"Authorization": f"Bearer {mint()}"})
    assert api.json()["groups"][0] == {"code": "orphan_reference", "entityType": "enrollment", "count": 3}
    assert api.json()["total"] == 6
    page = browser_client.get(f"{UI}/runs/{run_id}/errors")
    assert page.status_code == 200
    html = page.text
    # grouped, largest first, with a human title and a way to fix each
    first = html.index("Refers to a record the feed does not have")
    assert html.index("A required value is empty") > first
    assert "Make sure the referenced school, class or user is exported too" in html
    assert '<td class="num" data-label="Count">3</td>' in html
    assert "Brand new code" in html  # a code this UI does not know reads as words
    assert "user id" in html
    assert "user_external_id</td>" not in html
    # filtered by code and entity type, then searched (a literal search: _ is no wildcard)
    only = browser_client.get(f"{UI}/runs/{run_id}/errors?code=orphan_reference&entityType=enrollment").text
    assert "3 records match" in only
    assert "e-1" in only
    assert "c-2" not in only
    found = browser_client.get(f"{UI}/runs/{run_id}/errors?q=u-9").text
    assert "1 record matches" in found
    assert "e-1" in found
    assert "e-2" not in found
    literal = browser_client.get(f"{UI}/runs/{run_id}/errors?q=e_3").text
    assert "1 record matches" in literal
    assert f'href="{UI}/runs/{run_id}/errors.csv" download' in html


def test_a_run_that_linked_users_shows_the_links_in_the_history_the_run_page_and_the_api(
    browser_client: TestClient,
    mint: Callable[..., str],
    db: Engine,
    ui_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # a real run of the engine, in process, over the in-memory connector
    monkeypatch.setitem(registry._CONNECTORS, ProviderType.ONEROSTER_CSV, "tests.etl.memory:MemoryConnector")
    monkeypatch.setitem(MemoryConnector.datasets, "small", Dataset.of(SmallDistrict().records()))
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"dataset": "small"}, tenant_id=TENANT_A
    )
    with db.begin() as conn:  # people already in the roster: one by email, one by student number
        conn.execute(
            text(
                "INSERT INTO users (id, tenant_id, role, given_name, email, student_number) VALUES "
                "(gen_random_uuid(), :t, 'student', 'Known', 's1@example.org', NULL), "
                "(gen_random_uuid(), :t, 'student', 'Known', NULL, 'S0005')"
            ),
            {"t": TENANT_A},
        )
    ctx = EtlContext(settings=ui_settings, engine=db, cipher=config_cipher(ui_settings), redis=None)
    run_id = Driver(ctx).sync(provider_id)

    token = mint()
    api = browser_client.get(f"/api/v1/providers/{provider_id}/runs", headers={"Authorization": f"Bearer {token}"})
    users = api.json()["runs"][0]["stats"]["users"]
    assert (users["linked"], users["matchedByEmail"], users["matchedByStudentNumber"]) == (2, 1, 1)
    assert users["received"] == users["created"] + users["linked"] == 43
    sign_in(browser_client, token)
    history = browser_client.get(f"{UI}/providers/{provider_id}/history").text
    assert '+41<span class="visually-hidden"> created</span>' in history
    assert '⇄2<span class="visually-hidden"> linked</span>' in history
    page = browser_client.get(f"{UI}/runs/{run_id}").text
    row = re.search(r'<th scope="row">Users</th>(.*?)</tr>', page, re.S)
    assert row is not None
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert cells == ["43", "41", "0", "0", "2 (by email 1, by student number 1)", "0", "0", "0"]
    assert "Extract step <code>users</code>" in page  # what the run read, as a table


def test_provider_actions_answer_in_words_and_refuse_what_the_api_refuses(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    csrf = sign_in(browser_client, mint())
    base = f"{UI}/providers/{provider_id}"

    bad = browser_client.post(
        f"{base}/schedule", data={"csrf": csrf, "schedule": "custom", "cron": "99 * * * *", "scheduleTimezone": "UTC"}
    )
    assert bad.status_code == 303  # without JavaScript: back to the page with the message
    assert "five-field numeric cron expression" in browser_client.get(base).text.lower()
    as_json = browser_client.post(
        f"{base}/schedule",
        data={"csrf": csrf, "schedule": "weekdays", "scheduleTimezone": "Mars/Olympus"},
        headers=JSON,
    )
    assert as_json.status_code == 422
    assert as_json.json()["errors"][0]["field"] == "scheduleTimezone"

    saved = browser_client.post(
        f"{base}/schedule",
        data={"csrf": csrf, "schedule": "weekdays", "scheduleTimezone": "America/Chicago"},
        headers=JSON,
    ).json()
    assert saved["message"].startswith("Schedule saved: Weekdays at 6 AM. Next run:")

    off = browser_client.post(f"{base}/enabled", data={"csrf": csrf, "enabled": "false"}, headers=JSON).json()
    assert off["message"] == "Provider disabled: no sync runs until it is enabled again."
    refused = browser_client.post(f"{base}/sync", data={"csrf": csrf}, headers=JSON)
    assert refused.status_code == 409
    assert refused.json()["message"] == "Provider disabled: enable it before running a sync"

    unconfirmed = browser_client.post(f"{base}/delete", data={"csrf": csrf}, headers=JSON)
    assert unconfirmed.status_code == 422
    assert unconfirmed.json()["errors"] == [{"field": "confirm", "message": "Tick the box to confirm the deletion"}]
    deleted = browser_client.post(f"{base}/delete", data={"csrf": csrf, "confirm": "yes"}, headers=JSON).json()
    assert deleted["redirect"] == f"{UI}?tenant={TENANT_A}"
    assert browser_client.get(base).status_code == 404
    with db.connect() as conn:
        actions = conn.execute(text("SELECT action FROM audit_log ORDER BY id")).scalars().all()
    assert actions == ["provider.updated", "provider.updated", "provider.deleted"]


def test_a_running_sync_with_a_cancel_requested_says_what_it_waits_for(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    from libs.etl import runs
    from tests.support.providers import request

    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    run_id = request(db, provider_id).run_id
    with db.begin() as conn:
        runs.admit_pending(conn, max_concurrent=100, per_tenant=100, lease_ms=60_000)
        conn.execute(text("UPDATE sis_sync_runs SET phase = 'load:user' WHERE id = :r"), {"r": run_id})
        runs.request_cancel(conn, run_id, requested_by="admin")
    sign_in(browser_client, mint())
    page = browser_client.get(f"{UI}/providers/{provider_id}").text
    assert "Cancel requested" in page
    assert "waiting for load (users) to stop" in page


def test_a_port_out_of_range_gets_the_forms_words_not_the_validators(
    browser_client: TestClient, mint: Callable[..., str]
) -> None:
    csrf = sign_in(browser_client, mint())
    form = {
        "csrf": csrf,
        "tenantId": TENANT_A,
        "providerType": "ONEROSTER_CSV",
        "name": "District SFTP",
        "ONEROSTER_CSV:source": "sftp",
        "ONEROSTER_CSV:config.sftp.host": "sftp.example.org",
        "ONEROSTER_CSV:config.sftp.port": "99999",
        "ONEROSTER_CSV:config.sftp.username": "rostering",
        "ONEROSTER_CSV:config.sftp.password": "secret-password",
        "ONEROSTER_CSV:config.sftp.hostKeyFingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        "ONEROSTER_CSV:config.remotePath": "/exports",
        "schedule": "none",
        "scheduleTimezone": "UTC",
        "action": "test",
    }
    answer = browser_client.post(f"{UI}/providers/new", data=form, headers=JSON).json()
    assert answer["ok"] is False
    port = [e for e in answer["errors"] if e["field"] == "config.sftp.port"]
    assert port == [{"field": "config.sftp.port", "message": "Must be at most 65535."}], answer
    assert "Input should be" not in str(answer)


def test_undo_this_run_confirms_the_counts_and_links_the_undo_both_ways(
    browser_client: TestClient,
    mint: Callable[..., str],
    db: Engine,
    ui_settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(registry._CONNECTORS, ProviderType.ONEROSTER_CSV, "tests.etl.memory:MemoryConnector")
    monkeypatch.setitem(MemoryConnector.datasets, "small", Dataset.of(SmallDistrict().records()))
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"dataset": "small"}, tenant_id=TENANT_A
    )
    ctx = EtlContext(settings=ui_settings, engine=db, cipher=config_cipher(ui_settings), redis=None)
    driver = Driver(ctx)
    run_id = driver.sync(provider_id)
    with db.connect() as conn:
        created = conn.execute(text("SELECT count(*) FROM users WHERE tenant_id = :t"), {"t": TENANT_A}).scalar_one()

    csrf = sign_in(browser_client, mint())
    page = browser_client.get(f"{UI}/runs/{run_id}").text
    assert 'id="undo-open"' in page
    row = re.search(r'<table class="data" id="undo-counts">.*?<th scope="row">Users</th>(.*?)</tr>', page, re.S)
    assert row is not None
    cells = [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in re.findall(r"<td>(.*?)</td>", row.group(1), re.S)]
    assert cells == ["0", "0", str(created), "0"]  # restored, reactivated, deactivated, conflicts
    assert "Pause the provider" in page

    answer = browser_client.post(f"{UI}/runs/{run_id}/undo", data={"csrf": csrf})
    assert answer.status_code == 303
    undo_id = answer.headers["location"].rsplit("/", 1)[-1]
    driver.drain([start_sync(undo_id)])
    with db.connect() as conn:
        active = conn.execute(
            text("SELECT count(*) FROM users WHERE tenant_id = :t AND active"), {"t": TENANT_A}
        ).scalar_one()
        actor = conn.execute(
            text("SELECT actor FROM audit_log WHERE action = 'sync.undo_requested' AND target_id = :r"), {"r": undo_id}
        ).scalar_one()
    assert active == 0
    assert actor == "admin@a"  # who asked
    assert f'href="{UI}/runs/{run_id}"' in browser_client.get(f"{UI}/runs/{undo_id}").text
    assert f'href="{UI}/runs/{undo_id}"' in browser_client.get(f"{UI}/runs/{run_id}").text
    history = browser_client.get(f"{UI}/providers/{provider_id}/history").text
    assert "Undo of" in history
