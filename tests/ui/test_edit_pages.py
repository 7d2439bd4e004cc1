"""Editing a saved provider in the admin UI without a browser: connection settings and sync options."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType
from libs.settings import Settings
from tests.support.providers import create_provider
from tests.support.sshd import SshServer
from tests.ui.conftest import TENANT_A, TENANT_B, form_fields, sign_in

UI = "/integrations/sis"
JSON = {"Accept": "application/json"}
STORED_PASSWORD = "stored-sftp-secret-5f2c81"
NEW_PASSWORD = "rotated-sftp-secret-9a41e7"
FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
FORM = "edit-provider-form"


def _sftp_provider(
    db: Engine, settings: Settings, *, tenant: str = TENANT_A, stable_seconds: float = 2.0, **sftp: Any
) -> uuid.UUID:
    config = {
        "stableSeconds": stable_seconds,
        "sftp": {
            "host": "sftp.example.org",
            "port": 22,
            "username": "sis",
            "password": STORED_PASSWORD,
            "hostKeyFingerprint": FINGERPRINT,
            **sftp,
        },
        "remotePath": "/exports/oneroster",
    }
    return create_provider(
        db, settings, provider_type=ProviderType.ONEROSTER_CSV, config=config, tenant_id=tenant, name="District SFTP"
    )


def _stored(db: Engine, settings: Settings, provider_id: uuid.UUID) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """The provider's name, its decrypted config, and its options, as the database holds them."""
    with db.connect() as conn:
        row = conn.execute(
            text("SELECT name, config_ciphertext, options FROM sis_providers WHERE id = :id"), {"id": provider_id}
        ).one()
    return row.name, config_cipher(settings).decrypt(row.config_ciphertext, provider_id=str(provider_id)), row.options


def _audit(db: Engine) -> list[Any]:
    with db.connect() as conn:
        return conn.execute(
            text("SELECT actor, action, details, details::text AS raw FROM audit_log ORDER BY id")
        ).all()


def _tag(html: str, element_id: str) -> str:
    """The opening tag of the element with this id."""
    start = html.index(f'id="{element_id}"')
    return html[html.rindex("<", 0, start) : html.index(">", start)]


def _edit_form(client: TestClient, provider_id: uuid.UUID) -> dict[str, str]:
    page = client.get(f"{UI}/providers/{provider_id}/edit")
    assert page.status_code == 200, page.text
    return form_fields(page.text, FORM)


def test_the_edit_form_starts_from_the_saved_settings_and_shows_which_secrets_are_stored(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = _sftp_provider(db, ui_settings)
    sign_in(browser_client, mint())
    page = browser_client.get(f"{UI}/providers/{provider_id}/edit").text
    fields = form_fields(page, FORM)
    assert fields["name"] == "District SFTP"
    assert fields["providerType"] == "ONEROSTER_CSV"  # fixed: a hidden input, no choice of type
    assert 'type="radio" name="providerType"' not in page
    assert fields["ONEROSTER_CSV:source"] == "sftp"
    assert fields["ONEROSTER_CSV:config.sftp.host"] == "sftp.example.org"
    assert fields["ONEROSTER_CSV:config.sftp.port"] == "22"
    assert fields["ONEROSTER_CSV:config.sftp.hostKeyFingerprint"] == FINGERPRINT
    assert fields["ONEROSTER_CSV:config.remotePath"] == "/exports/oneroster"
    assert fields["ONEROSTER_CSV:config.sftp.password"] == ""
    assert fields["ONEROSTER_CSV:config.sftp.privateKey"] == ""
    assert (
        'id="f-ONEROSTER_CSV-config-sftp-password-secret"><span class="badge ok">Stored</span> '
        "Leave blank to keep the stored value" in page
    )
    assert 'id="f-ONEROSTER_CSV-config-sftp-privateKey-secret"><span class="badge off">Not set</span>' in page
    assert STORED_PASSWORD not in page
    # the provider page opens the same form in a dialog, and shows the settings masked
    details = browser_client.get(f"{UI}/providers/{provider_id}").text
    assert f'href="{UI}/providers/{provider_id}/edit" data-open-dialog="edit-provider"' in details
    assert form_fields(details, FORM) == fields
    assert "Remote path" in details
    assert STORED_PASSWORD not in details


def test_a_required_secret_that_is_stored_may_be_left_blank(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    config = {
        "baseUrl": "https://sis.example.org/ims/oneroster/v1p1",
        "clientId": "district-app",
        "clientSecret": STORED_PASSWORD,
    }
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_API, config=config, tenant_id=TENANT_A
    )
    sign_in(browser_client, mint())
    page = browser_client.get(f"{UI}/providers/{provider_id}/edit").text
    # the secret is required by the config model, but a stored one is kept when left blank
    assert "required" in _tag(page, "f-ONEROSTER_API-config-clientId")
    assert "required" not in _tag(page, "f-ONEROSTER_API-config-clientSecret")
    form = {**form_fields(page, FORM), "ONEROSTER_API:config.clientId": "district-app-2"}
    saved = browser_client.post(f"{UI}/providers/{provider_id}/edit", data={**form, "action": "save"}, headers=JSON)
    assert saved.json()["ok"] is True, saved.text
    stored = _stored(db, ui_settings, provider_id)[1]
    assert (stored["clientId"], stored["clientSecret"]) == ("district-app-2", STORED_PASSWORD)


def test_renaming_and_changing_a_setting_without_javascript_keeps_the_blank_secret_and_is_audited(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = _sftp_provider(db, ui_settings)
    sign_in(browser_client, mint(sub="admin@a"))
    form = _edit_form(browser_client, provider_id)
    form["name"] = "District SFTP (nightly)"
    form["ONEROSTER_CSV:config.remotePath"] = "/exports/nightly"
    response = browser_client.post(f"{UI}/providers/{provider_id}/edit", data={**form, "action": "save"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{UI}/providers/{provider_id}"
    page = browser_client.get(response.headers["location"]).text
    assert "Connection settings of “District SFTP (nightly)” saved." in page
    assert "<code>/exports/nightly</code>" in page
    assert "<h1><span data-provider-name>District SFTP (nightly)</span>" in page

    name, config, _ = _stored(db, ui_settings, provider_id)
    assert name == "District SFTP (nightly)"
    assert config["remotePath"] == "/exports/nightly"
    assert config["sftp"]["password"] == STORED_PASSWORD
    assert config["sftp"]["host"] == "sftp.example.org"
    [entry] = _audit(db)
    assert (entry.actor, entry.action) == ("admin@a", "provider.updated")
    assert entry.details["changed"] == ["config", "name"]
    assert entry.details["config"]["sftp"]["password"] == "********"
    assert STORED_PASSWORD not in entry.raw


def test_a_rotated_secret_is_stored_and_no_response_ever_shows_it(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    # nothing listens on port 1: the connection test fails at once
    provider_id = _sftp_provider(db, ui_settings, host="127.0.0.1", port=1)
    csrf = sign_in(browser_client, mint())
    url = f"{UI}/providers/{provider_id}"
    form = {**_edit_form(browser_client, provider_id), "ONEROSTER_CSV:config.sftp.password": NEW_PASSWORD}
    bodies = []
    # a test first, without JavaScript: the form comes back with the result, the secret not in it
    tested = browser_client.post(f"{url}/edit", data={**form, "action": "test"})
    assert tested.status_code == 200
    assert "Connection failed: " in tested.text
    bodies.append(tested.text)
    saved = browser_client.post(f"{url}/edit", data={**form, "action": "save"}, headers=JSON)
    assert saved.status_code == 200
    answer = saved.json()
    assert answer["ok"] is True
    assert answer["message"] == "Connection settings of “District SFTP” saved."
    assert set(answer["replace"]) == {"#provider-settings", "#edit-provider-form"}
    assert answer["text"] == {"[data-provider-name]": "District SFTP"}
    assert answer["next"] == url
    assert f'name="csrf" value="{csrf}"' in answer["replace"]["#edit-provider-form"]
    bodies.append(saved.text)
    for path in ("", "/edit", "/status", "/history"):
        bodies.append(browser_client.get(f"{url}{path}").text)

    assert _stored(db, ui_settings, provider_id)[1]["sftp"]["password"] == NEW_PASSWORD
    for body in bodies:
        assert NEW_PASSWORD not in body
        assert STORED_PASSWORD not in body
    assert "<code>********</code>" in bodies[2]  # the provider page shows the secret masked
    assert NEW_PASSWORD not in _audit(db)[0].raw


def test_testing_edited_settings_uses_the_stored_secret_where_the_form_leaves_it_blank(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings, sshd: SshServer
) -> None:
    if sshd.password is None:
        pytest.skip("password logins need root (the sshd fixture creates the account)")
    package = sshd.folder(f"ui-edit-{uuid.uuid4().hex[:8]}")
    (package / "manifest.csv").write_text("propertyName,value\n")
    provider_id = _sftp_provider(
        db,
        ui_settings,
        host=sshd.host,
        port=sshd.port,
        username=sshd.username,
        password=sshd.password,
        hostKeyFingerprint=sshd.fingerprint,
        stable_seconds=0,
    )
    before = _stored(db, ui_settings, provider_id)
    sign_in(browser_client, mint())
    url = f"{UI}/providers/{provider_id}/edit"
    form = {**_edit_form(browser_client, provider_id), "ONEROSTER_CSV:config.remotePath": str(package)}
    assert form["ONEROSTER_CSV:config.sftp.password"] == ""

    blank = browser_client.post(url, data={**form, "action": "test"}, headers=JSON).json()
    assert blank["test"]["success"] is True, blank
    wrong = {**form, "ONEROSTER_CSV:config.sftp.password": "not-the-password"}
    refused = browser_client.post(url, data={**wrong, "action": "test"}, headers=JSON).json()
    assert refused["test"]["success"] is False
    assert _stored(db, ui_settings, provider_id) == before  # a test saves nothing
    assert sshd.password not in f"{blank}{refused}"


def test_an_invalid_edit_is_shown_beside_its_field_and_changes_nothing(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = _sftp_provider(db, ui_settings)
    before = _stored(db, ui_settings, provider_id)
    sign_in(browser_client, mint())
    url = f"{UI}/providers/{provider_id}/edit"
    form = _edit_form(browser_client, provider_id)
    bad = {**form, "ONEROSTER_CSV:config.sftp.port": "70000", "ONEROSTER_CSV:config.sftp.password": NEW_PASSWORD}

    page = browser_client.post(url, data={**bad, "name": "Renamed", "action": "save"})
    assert page.status_code == 422
    assert 'data-error-for="config.sftp.port">Must be at most 65535.' in page.text
    refilled = form_fields(page.text, FORM)
    assert refilled["ONEROSTER_CSV:config.sftp.port"] == "70000"
    assert refilled["name"] == "Renamed"
    assert NEW_PASSWORD not in page.text
    # a connection test validates the edited settings exactly as saving them does
    for action in ("test", "save"):
        answer = browser_client.post(url, data={**bad, "action": action}, headers=JSON)
        assert answer.status_code == 422
        assert answer.json()["errors"] == [{"field": "config.sftp.port", "message": "Must be at most 65535."}]
    unnamed = browser_client.post(url, data={**form, "name": " ", "action": "save"}, headers=JSON).json()
    assert [e["field"] for e in unnamed["errors"]] == ["name"]

    assert _stored(db, ui_settings, provider_id) == before
    assert _audit(db) == []


def test_an_admin_of_another_district_can_neither_open_nor_edit_nor_test_a_provider(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = _sftp_provider(db, ui_settings, tenant=TENANT_B)
    before = _stored(db, ui_settings, provider_id)
    csrf = sign_in(browser_client, mint("DISTRICT_ADMIN", TENANT_A))
    url = f"{UI}/providers/{provider_id}"
    page = browser_client.get(f"{url}/edit")
    assert page.status_code == 404
    assert "Provider not found." in page.text
    edit = {"csrf": csrf, "name": "Taken over", "ONEROSTER_CSV:config.sftp.password": NEW_PASSWORD}
    for action in ("save", "test"):
        assert browser_client.post(f"{url}/edit", data={**edit, "action": action}).status_code == 404
        assert browser_client.post(f"{url}/edit", data={**edit, "action": action}, headers=JSON).status_code == 404
    options = {"csrf": csrf, "deactivationThresholdPercent": "100", "deactivationGuardMinimum": "0"}
    assert browser_client.post(f"{url}/options", data=options, headers=JSON).status_code == 404
    assert _stored(db, ui_settings, provider_id) == before
    assert _audit(db) == []


def test_the_edit_and_options_forms_refuse_a_post_without_the_csrf_token(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = _sftp_provider(db, ui_settings)
    before = _stored(db, ui_settings, provider_id)
    sign_in(browser_client, mint())
    url = f"{UI}/providers/{provider_id}"
    form = {k: v for k, v in _edit_form(browser_client, provider_id).items() if k != "csrf"}
    options = {"deactivationThresholdPercent": "90", "deactivationGuardMinimum": "0", "fullSyncEveryDays": "1"}
    for path, data in ((f"{url}/edit", {**form, "name": "Forged", "action": "save"}), (f"{url}/options", options)):
        for extra in ({}, {"csrf": "0" * 64}):
            response = browser_client.post(path, data={**data, **extra}, headers=JSON)
            assert response.status_code == 403
            assert "security token" in response.json()["message"]
    assert _stored(db, ui_settings, provider_id) == before
    assert _audit(db) == []


def test_sync_options_are_saved_and_a_value_out_of_range_is_shown_beside_its_field(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = _sftp_provider(db, ui_settings)
    sign_in(browser_client, mint())
    url = f"{UI}/providers/{provider_id}"
    page = browser_client.get(url).text
    form = form_fields(page, "sync-options")
    assert form == {
        "csrf": form["csrf"],
        "createUsers": "true",
        "deactivationThresholdPercent": "20",
        "deactivationGuardMinimum": "50",
        "requireApproval": "onGuard",
        "fullSyncEveryDays": "7",
    }
    assert "The guard keeps a broken feed from wiping the district" in page

    too_high = browser_client.post(f"{url}/options", data={**form, "deactivationThresholdPercent": "150"})
    assert too_high.status_code == 422
    assert 'data-error-for="options.deactivationThresholdPercent">Must be at most 100.' in too_high.text
    assert form_fields(too_high.text, "sync-options")["deactivationThresholdPercent"] == "150"
    blank = browser_client.post(f"{url}/options", data={**form, "deactivationGuardMinimum": ""}, headers=JSON)
    assert blank.json()["errors"] == [{"field": "options.deactivationGuardMinimum", "message": "Enter a number"}]
    assert _stored(db, ui_settings, provider_id)[2] == {}

    changed = {k: v for k, v in form.items() if k != "createUsers"}
    changed.update(deactivationThresholdPercent="35", deactivationGuardMinimum="10", incremental="true")
    changed["fullSyncEveryDays"] = "3"
    saved = browser_client.post(f"{url}/options", data=changed, headers=JSON).json()
    assert saved["message"] == "Sync options saved."
    assert "at most 35% of a type&#39;s active records (when it has 10 or more)" in saved["replace"]["#sync-options"]
    options = _stored(db, ui_settings, provider_id)[2]
    assert {k: options[k] for k in ("createUsers", "deactivationThresholdPercent", "deactivationGuardMinimum")} == {
        "createUsers": False,
        "deactivationThresholdPercent": 35.0,
        "deactivationGuardMinimum": 10,
    }
    assert (options["incremental"], options["fullSyncEveryDays"]) == (True, 3)
    [entry] = _audit(db)
    assert (entry.action, entry.details["changed"]) == ("provider.updated", ["options"])
    # without JavaScript: back to the page, which says so and shows the saved values
    again = browser_client.post(f"{url}/options", data={**changed, "deactivationThresholdPercent": "25"})
    assert again.status_code == 303
    shown = browser_client.get(url).text
    assert "Sync options saved." in shown
    assert form_fields(shown, "sync-options")["deactivationThresholdPercent"] == "25"
