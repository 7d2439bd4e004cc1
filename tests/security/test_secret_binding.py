"""A district admin moves a saved provider's destination and leaves the stored secret to follow it.

A PATCH, a connection test of edited settings or the UI's edit form that changes a destination
field (`destination_fields` of the config model: URLs, host, port, account, host key, tenant or
district) without typing every stored secret again is a 422 naming those secrets, and nothing
is contacted. Private hosts are allowed here, so without the guard the connection test would
reach the loopback listener standing for the attacker's server.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.auth import mint_token
from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType
from libs.providers import configs
from libs.settings import Settings
from services.api.app import create_app
from tests.security.conftest import TENANT, Listener
from tests.ui.conftest import form_fields, sign_in

SECRET = "stored-secret-7c1e93"
TOKEN = "stored-token-2b8f44"
FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
OTHER_FINGERPRINT = "SHA256:" + "A" * 43
STORED: dict[str, dict[str, Any]] = {
    "ONEROSTER_API": {
        "baseUrl": "https://sis.district.example/ims/oneroster/v1p1",
        "clientId": "c",
        "clientSecret": SECRET,
    },
    "CLASSLINK": {"tenantId": "springtownisd-tx", "clientId": "c", "clientSecret": SECRET},
    "CLEVER": {"districtId": "d-1", "clientId": "c", "clientSecret": SECRET, "accessToken": TOKEN},
    "ONEROSTER_CSV": {
        "sftp": {
            "host": "sftp.district.example",
            "username": "sis",
            "password": SECRET,
            "hostKeyFingerprint": FINGERPRINT,
        },
        "remotePath": "/exports",
    },
}
SECRETS = {
    "ONEROSTER_API": ["clientSecret"],
    "CLASSLINK": ["clientSecret"],
    "CLEVER": ["clientSecret", "accessToken"],
    "ONEROSTER_CSV": ["sftp.password"],
}


def at_listener(provider_type: str, port: int) -> dict[str, Any]:
    """The change that points a provider of this type at the loopback listener."""
    url = f"http://127.0.0.1:{port}"
    return {
        "ONEROSTER_API": {"baseUrl": f"{url}/ims/oneroster/v1p1"},
        "CLASSLINK": {"baseUrl": f"{url}/ims/oneroster/v1p1"},
        "CLEVER": {"apiUrl": url, "oauthUrl": url},
        "ONEROSTER_CSV": {"sftp": {"host": "127.0.0.1", "port": port}},
    }[provider_type]


# one case per declared destination field: (provider type, change, the field named as changed)
MOVES = [
    ("ONEROSTER_API", {"baseUrl": "https://evil.example/ims/oneroster/v1p1"}, "baseUrl"),
    ("ONEROSTER_API", {"auth": "oauth2", "tokenUrl": "https://evil.example/token"}, "tokenUrl"),
    ("CLASSLINK", {"tenantId": "otherisd-tx"}, "tenantId"),
    ("CLASSLINK", {"baseUrl": "https://evil.example/ims/oneroster/v1p1"}, "baseUrl"),
    ("CLEVER", {"apiUrl": "https://evil.example"}, "apiUrl"),
    ("CLEVER", {"oauthUrl": "https://evil.example"}, "oauthUrl"),
    ("CLEVER", {"districtId": "d-2"}, "districtId"),
    ("ONEROSTER_CSV", {"sftp": {"host": "evil.example"}}, "sftp.host"),
    ("ONEROSTER_CSV", {"sftp": {"port": 2222}}, "sftp.port"),
    ("ONEROSTER_CSV", {"sftp": {"username": "root"}}, "sftp.username"),
    ("ONEROSTER_CSV", {"sftp": {"hostKeyFingerprint": OTHER_FINGERPRINT}}, "sftp.hostKeyFingerprint"),
]


def merged(config: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for key, value in change.items():
        out[key] = merged(out.get(key) or {}, value) if isinstance(value, dict) else value
    return out


def without_secrets(provider_type: str, config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    for path in SECRETS[provider_type]:
        *parents, leaf = path.split(".")
        node = out
        for key in parents:
            node = node[key]
        node.pop(leaf, None)
    return out


@pytest.fixture
def open_settings(policy_on: Settings) -> Settings:
    # the attacker's server is on loopback: let the egress policy through so only this guard stands
    return policy_on.model_copy(update={"allow_private_provider_hosts": True})


@pytest.fixture
def api(db: Engine, open_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(open_settings)) as client:
        yield client


def create(api: TestClient, admin: dict[str, str], provider_type: str) -> str:
    body = {"tenantId": TENANT, "providerType": provider_type, "name": "SIS", "config": STORED[provider_type]}
    response = api.post("/api/v1/providers", json=body, headers=admin)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def stored_config(db: Engine, settings: Settings, provider_id: str) -> dict[str, Any]:
    with db.connect() as conn:
        sealed = conn.execute(text("SELECT config_ciphertext FROM sis_providers WHERE id = :id"), {"id": provider_id})
        return config_cipher(settings).decrypt(sealed.scalar_one(), provider_id=provider_id)


def assert_names_the_secrets(response: Any, provider_type: str, changed: str) -> None:
    assert response.status_code == 422, response.text
    assert SECRET not in response.text
    assert TOKEN not in response.text
    errors = response.json()["errors"]
    secrets = SECRETS[provider_type]
    assert [e["field"] for e in errors] == ["config", *(f"config.{s}" for s in secrets)]
    assert errors[0]["detail"].startswith(changed)
    assert f"enter {', '.join(secrets)} again" in errors[0]["detail"]
    assert response.json()["detail"] == f"config: {errors[0]['detail']}"


def test_every_connector_with_secrets_declares_where_they_are_sent() -> None:
    for provider_type in ProviderType:
        model = configs.config_model(provider_type)
        if model is not None and model.secret_fields:
            assert model.destination_fields, f"{provider_type.value} declares no destination_fields"


@pytest.mark.parametrize("provider_type", list(STORED))
def test_a_connection_test_at_a_new_destination_without_the_secrets_is_refused_before_connecting(
    api: TestClient, admin: dict[str, str], listener: Listener, provider_type: str
) -> None:
    provider_id = create(api, admin, provider_type)
    moved = merged(without_secrets(provider_type, STORED[provider_type]), at_listener(provider_type, listener.port))

    response = api.post(f"/api/v1/providers/{provider_id}/test", json={"config": moved}, headers=admin)

    assert listener.connections() == 0
    changed = {"CLEVER": "apiUrl, oauthUrl", "ONEROSTER_CSV": "sftp.host, sftp.port"}.get(provider_type, "baseUrl")
    assert_names_the_secrets(response, provider_type, changed)


@pytest.mark.parametrize(("provider_type", "change", "changed"), MOVES, ids=[f"{t}-{f}" for t, _, f in MOVES])
def test_a_patch_that_moves_a_destination_and_sends_the_secrets_back_masked_is_refused(
    api: TestClient,
    admin: dict[str, str],
    db: Engine,
    open_settings: Settings,
    provider_type: str,
    change: dict[str, Any],
    changed: str,
) -> None:
    provider_id = create(api, admin, provider_type)
    before = stored_config(db, open_settings, provider_id)
    # the config as GET shows it: secrets masked, has<Field> flags beside them
    shown = api.get(f"/api/v1/providers/{provider_id}", headers=admin).json()["config"]

    response = api.patch(f"/api/v1/providers/{provider_id}", json={"config": merged(shown, change)}, headers=admin)

    assert_names_the_secrets(response, provider_type, changed)
    assert stored_config(db, open_settings, provider_id) == before


def test_a_new_destination_is_saved_once_every_stored_secret_is_typed_again(
    api: TestClient, admin: dict[str, str], db: Engine, open_settings: Settings
) -> None:
    provider_id = create(api, admin, "CLEVER")
    url = f"/api/v1/providers/{provider_id}"
    moved = merged(without_secrets("CLEVER", STORED["CLEVER"]), {"apiUrl": "https://api.clever.example"})

    partly = api.patch(url, json={"config": {**moved, "accessToken": "new-token"}}, headers=admin)
    assert partly.status_code == 422
    assert [e["field"] for e in partly.json()["errors"]] == ["config", "config.clientSecret"]

    both = {**moved, "accessToken": "new-token", "clientSecret": "new-secret"}
    assert api.patch(url, json={"config": both}, headers=admin).status_code == 200
    stored = stored_config(db, open_settings, provider_id)
    assert (stored["apiUrl"], stored["clientSecret"], stored["accessToken"]) == (
        "https://api.clever.example",
        "new-secret",
        "new-token",
    )


# per type: a setting that is no destination, and destinations spelled differently but equal once
# the model has normalized them (a trailing slash, upper case, a whole `ssh-keygen -lf` line)
KEEPS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "ONEROSTER_API": ({"pageSize": 200}, {"baseUrl": "https://sis.district.example/ims/oneroster/v1p1/"}),
    "CLASSLINK": ({"requestsPerMinute": 60}, {"tenantId": "SpringtownISD-TX"}),
    "CLEVER": ({"pageSize": 500}, {"apiUrl": "https://api.clever.com/"}),
    "ONEROSTER_CSV": ({"remotePath": "/exports/nightly"}, {"sftp": {"hostKeyFingerprint": f"256 {FINGERPRINT} k"}}),
}


@pytest.mark.parametrize("provider_type", list(STORED))
def test_changing_other_settings_keeps_the_stored_secrets(
    api: TestClient, admin: dict[str, str], db: Engine, open_settings: Settings, provider_type: str
) -> None:
    provider_id = create(api, admin, provider_type)
    before = stored_config(db, open_settings, provider_id)
    url = f"/api/v1/providers/{provider_id}"
    setting, respelled = KEEPS[provider_type]
    shown = api.get(url, headers=admin).json()["config"]
    body = {"name": "SIS (nightly)", "syncSchedule": "daily", "config": merged(merged(shown, setting), respelled)}

    response = api.patch(url, json=body, headers=admin)

    assert response.status_code == 200, response.text
    assert stored_config(db, open_settings, provider_id) == merged(before, setting)
    assert api.patch(url, json={"syncSchedule": "hourly", "enabled": False}, headers=admin).status_code == 200


def test_the_edit_form_asks_for_the_secrets_again_when_the_destination_changes(
    db: Engine, open_settings: Settings, listener: Listener
) -> None:
    ui = "/integrations/sis"
    assert open_settings.auth_jwt_secret is not None
    token = mint_token(open_settings.auth_jwt_secret, subject="admin@a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT)
    with TestClient(create_app(open_settings), base_url="https://testserver", follow_redirects=False) as client:
        admin = {"Authorization": f"Bearer {token}"}
        provider_id = create(client, admin, "ONEROSTER_CSV")
        sign_in(client, token)
        url = f"{ui}/providers/{provider_id}/edit"
        form = form_fields(client.get(url).text, "edit-provider-form")
        assert form["ONEROSTER_CSV:config.sftp.password"] == ""
        form.update(
            {"ONEROSTER_CSV:config.sftp.host": "127.0.0.1", "ONEROSTER_CSV:config.sftp.port": str(listener.port)}
        )

        for action in ("test", "save"):
            page = client.post(url, data={**form, "action": action})
            assert page.status_code == 422
            assert "sftp.host, sftp.port changed: enter sftp.password again" in page.text
            assert 'data-error-for="config.sftp.password">Enter it again: sftp.host, sftp.port changed' in page.text
            password_input = page.text[page.text.index('id="f-ONEROSTER_CSV-config-sftp-password"') :]
            assert 'aria-invalid="true"' in password_input[: password_input.index(">")]
            assert "Type it again to save or test these settings." in page.text
            assert form_fields(page.text, "edit-provider-form")["ONEROSTER_CSV:config.sftp.host"] == "127.0.0.1"
            assert SECRET not in page.text
        answer = client.post(url, data={**form, "action": "save"}, headers={"Accept": "application/json"})
        assert [e["field"] for e in answer.json()["errors"]] == ["config", "config.sftp.password"]
        assert listener.connections() == 0
        assert stored_config(db, open_settings, provider_id)["sftp"]["host"] == "sftp.district.example"

        retyped = {**form, "ONEROSTER_CSV:config.sftp.password": "new-password", "action": "save"}
        assert client.post(url, data=retyped).status_code == 303
        stored = stored_config(db, open_settings, provider_id)["sftp"]
        assert (stored["host"], stored["password"]) == ("127.0.0.1", "new-password")
