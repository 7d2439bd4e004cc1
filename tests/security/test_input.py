"""Bad input gets a clear 4xx in the API's problem shape, never a 500, and never stores a thing.

A hostile admin sends NUL and other control characters in every kind of text field, a cron
that never fires, deeply nested or null JSON, methods a path does not have, and URLs carrying
credentials; the OpenAPI document states the per-type config and the cursor exactly.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import jsonschema
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from services.api.openapi import document
from tests.security.conftest import TENANT
from tests.security.test_openapi_schemathesis import SEEDS

PROVIDERS = "/api/v1/providers"


def _create(api: TestClient, headers: dict[str, str], provider_type: str, **changes: Any) -> Any:
    body = {
        "tenantId": TENANT,
        "providerType": provider_type,
        "name": "n",
        "config": copy.deepcopy(SEEDS[provider_type]),
    }
    body.update(changes)
    return api.post(PROVIDERS, json=body, headers=headers)


def _problem(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    if field is not None:
        assert field in {e["field"] for e in problem["errors"]}, problem
    return problem


def _stored(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM sis_providers")).scalar_one())


@pytest.mark.parametrize("char", ["\x00", "\x01", "\n", "\t", "\x1f", "\x7f"])
@pytest.mark.parametrize(
    ("provider_type", "path"),
    [
        ("CLEVER", "name"),
        ("CLEVER", "config.districtId"),
        ("CLEVER", "config.clientSecret"),
        ("CLASSLINK", "config.clientId"),
        ("ONEROSTER_API", "config.scope"),
        ("ONEROSTER_CSV", "config.remotePath"),
        ("ONEROSTER_CSV", "config.sftp.username"),
        ("ONEROSTER_CSV", "config.sftp.password"),
    ],
)
def test_control_characters_in_text_fields_are_a_422(
    api: TestClient, admin: dict[str, str], db: Engine, char: str, provider_type: str, path: str
) -> None:
    body = {
        "tenantId": TENANT,
        "providerType": provider_type,
        "name": "n",
        "config": copy.deepcopy(SEEDS[provider_type]),
    }
    if path == "config.scope":
        body["config"]["auth"] = "oauth2"
    *parents, leaf = path.split(".")
    node: Any = body
    for key in parents:
        node = node[key]
    node[leaf] = "a" + char + "b"
    problem = _problem(api.post(PROVIDERS, json=body, headers=admin), 422, path)
    assert "control characters" in problem["detail"]
    assert _stored(db) == 0


def test_a_private_key_keeps_its_line_breaks_but_not_a_nul(api: TestClient, admin: dict[str, str]) -> None:
    sftp = {**SEEDS["ONEROSTER_CSV"]["sftp"], "password": None}
    for key, field in (
        ("-----BEGIN\nnot a key\r\n\tEND", "config.sftp"),
        ("-----BEGIN\n\x00", "config.sftp.privateKey"),
    ):
        response = _create(
            api, admin, "ONEROSTER_CSV", config={"sftp": {**sftp, "privateKey": key}, "remotePath": "/x"}
        )
        detail = _problem(response, 422, field)["detail"]
        # line breaks and tabs belong in a key (it is then parsed, and refused as no key); a NUL does not
        assert ("control characters" in detail) == ("\x00" in key), detail


def test_control_characters_in_query_parameters_are_a_422(api: TestClient, admin: dict[str, str]) -> None:
    for url, field in (
        (f"/api/v1/tenants/{TENANT}/roster/users?q=a%00b", "query.q"),
        (f"/api/v1/tenants/{TENANT}/roster/classes?q=%1b[31m", "query.q"),
        ("/api/v1/schedule/preview?cron=daily&timezone=UTC%00", "query.timezone"),
        (f"/api/v1/tenants/{TENANT}/providers?anything=%7f", "query.anything"),
    ):
        _problem(api.get(url, headers=admin), 422, field)


def test_a_cron_that_never_fires_is_a_422_that_says_so(api: TestClient, admin: dict[str, str], db: Engine) -> None:
    for cron in ("0 0 31 2 *", "0 0 30 2 *", "0 0 31 4,6,9,11 *"):
        problem = _problem(_create(api, admin, "CLEVER", syncSchedule=cron), 422, "syncSchedule")
        assert "never fires" in problem["detail"]
        preview = api.get(f"/api/v1/schedule/preview?cron={cron}", headers=admin)
        assert "never fires" in _problem(preview, 422, "query.cron")["detail"]
    assert _stored(db) == 0
    provider = _create(api, admin, "CLEVER", syncSchedule="0 0 29 2 *")  # a leap day fires within 5 years
    assert provider.status_code == 201, provider.text
    patched = api.patch(f"{PROVIDERS}/{provider.json()['id']}", json={"syncSchedule": "0 0 31 2 *"}, headers=admin)
    assert "never fires" in _problem(patched, 422, "syncSchedule")["detail"]


def _nested(depth: int) -> str:
    return '{"a":' * depth + "1" + "}" * depth


def test_json_nested_deeper_than_32_is_a_400(api: TestClient, admin: dict[str, str]) -> None:
    headers = {**admin, "content-type": "application/json"}
    for body in (_nested(33), "[" * 100_000 + "]" * 100_000, '{"config": ' + _nested(40) + "}"):
        problem = _problem(api.post(PROVIDERS, content=body, headers=headers), 400)
        assert problem["detail"] in ("request body is nested deeper than 32 levels", "request body is not valid JSON")
    assert _problem(api.post(PROVIDERS, content=_nested(33), headers=headers), 400)["detail"].endswith("32 levels")
    # 32 levels is still a body the API reads (and then finds invalid)
    _problem(api.post(PROVIDERS, content=_nested(32), headers=headers), 422)


def test_a_null_body_is_a_422_where_an_object_is_expected(api: TestClient, admin: dict[str, str]) -> None:
    provider = _create(api, admin, "CLEVER").json()
    headers = {**admin, "content-type": "application/json"}
    for path in (PROVIDERS, f"{PROVIDERS}/{provider['id']}", f"{PROVIDERS}/{provider['id']}/test"):
        method = "PATCH" if path.endswith(provider["id"]) else "POST"
        assert "not null" in _problem(api.request(method, path, content="null", headers=headers), 422)["detail"]
    # the saved-provider test's body is optional: absent is fine, null is not
    assert api.post(f"{PROVIDERS}/{provider['id']}/test", headers=admin).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", f"{PROVIDERS}/00000000-0000-0000-0000-000000000001", "DELETE, GET, HEAD, PATCH"),
        ("PUT", f"{PROVIDERS}/00000000-0000-0000-0000-000000000001", "DELETE, GET, HEAD, PATCH"),
        ("PATCH", f"{PROVIDERS}/test", "POST"),
        ("GET", PROVIDERS, "POST"),
        ("OPTIONS", "/integrations/sis/login", "GET, HEAD, POST"),
    ],
)
def test_405_names_every_method_of_the_path(
    api: TestClient, admin: dict[str, str], method: str, path: str, allow: str
) -> None:
    response = api.request(method, path, headers=admin)
    assert response.status_code == 405
    assert response.headers["allow"] == allow


URL_FIELDS = [
    ("CLEVER", "apiUrl", {}),
    ("CLEVER", "oauthUrl", {}),
    ("CLASSLINK", "baseUrl", {}),
    ("ONEROSTER_API", "baseUrl", {}),
    ("ONEROSTER_API", "tokenUrl", {"auth": "oauth2"}),
]


@pytest.mark.parametrize(("provider_type", "field", "extra"), URL_FIELDS)
@pytest.mark.parametrize("userinfo", ["user:hunter2@", "hunter2@", ":hunter2@"])
def test_urls_with_credentials_are_refused_and_never_stored_or_echoed(
    api: TestClient,
    admin: dict[str, str],
    db: Engine,
    provider_type: str,
    field: str,
    extra: dict[str, str],
    userinfo: str,
) -> None:
    url = f"https://{userinfo}sis.example.org" + ("" if provider_type == "CLEVER" else "/ims/oneroster/v1p1")
    config = {**SEEDS[provider_type], **extra, field: url}
    created = api.post(
        PROVIDERS,
        json={"tenantId": TENANT, "providerType": provider_type, "name": "n", "config": config},
        headers=admin,
    )
    tested = api.post(
        f"{PROVIDERS}/test", json={"tenantId": TENANT, "providerType": provider_type, "config": config}, headers=admin
    )
    saved = _create(api, admin, provider_type, config={**SEEDS[provider_type], **extra}).json()
    patched = api.patch(f"{PROVIDERS}/{saved['id']}", json={"config": config}, headers=admin)
    for response in (created, tested, patched):
        assert "credentials" in _problem(response, 422, f"config.{field}")["detail"]
        assert "hunter2" not in response.text
    assert _stored(db) == 1
    assert "hunter2" not in api.get(f"{PROVIDERS}/{saved['id']}", headers=admin).text


def test_the_document_states_each_provider_types_config_and_the_cursor() -> None:
    doc = document()
    schemas = doc["components"]["schemas"]
    create = schemas["ProviderCreate"]
    assert create["discriminator"]["propertyName"] == "providerType"
    assert set(create["discriminator"]["mapping"]) == set(SEEDS)
    validator = jsonschema.Draft202012Validator({**create, "components": doc["components"]})
    for provider_type, config in SEEDS.items():
        body = {"tenantId": TENANT, "providerType": provider_type, "name": "n", "config": config}
        assert validator.is_valid(body), provider_type
        # the same config under another type's name is not a valid body
        other = next(t for t in SEEDS if t != provider_type)
        assert not validator.is_valid({**body, "providerType": other}), provider_type
    assert not validator.is_valid(
        {
            "tenantId": TENANT,
            "providerType": "CLEVER",
            "name": "n",
            "config": {**SEEDS["CLEVER"], "apiUrl": "https://u:p@h"},
        }
    )
    change = schemas["ProviderUpdate"]["properties"]
    assert {s["$ref"].rsplit("/", 1)[1] for s in change["config"]["oneOf"]} == {
        f"{m}Change" for m in ("CleverConfig", "ClassLinkConfig", "OneRosterApiConfig", "OneRosterCsvConfig")
    }
    assert "anyOf" not in change["name"]  # PATCH refuses null there
    operations = doc["paths"]
    assert operations[PROVIDERS]["post"]["requestBody"]["required"] is True
    roster = operations["/api/v1/tenants/{tenantId}/roster/users"]["get"]
    cursor = next(p for p in roster["parameters"] if p["name"] == "cursor")
    assert cursor["schema"]["format"] == "uuid"
    page = json.dumps(schemas["UserPage"]["properties"]["nextCursor"])
    assert '"format": "uuid"' in page
    assert '"null"' in page


def test_json_types_are_the_documents_and_an_empty_cursor_is_no_cursor(api: TestClient, admin: dict[str, str]) -> None:
    # lax parsing took 0 for false, false or "5" for a number: the document allows neither
    for changes, field in (
        ({"enabled": 0}, "enabled"),
        ({"options": {"incremental": "true"}}, "options.incremental"),
        ({"config": {**SEEDS["ONEROSTER_API"], "pageSize": False}}, "config.pageSize"),
        ({"config": {**SEEDS["ONEROSTER_API"], "pageSize": "5"}}, "config.pageSize"),
    ):
        _problem(_create(api, admin, "ONEROSTER_API", **changes), 422, field)
    provider = _create(api, admin, "ONEROSTER_API", config={**SEEDS["ONEROSTER_API"], "pageSize": 500.0})
    assert provider.status_code == 201, provider.text  # 500.0 is an integer in JSON Schema
    sync = api.post(f"{PROVIDERS}/{provider.json()['id']}/sync", json={"allowMassDeactivation": 0}, headers=admin)
    _problem(sync, 422, "allowMassDeactivation")
    _problem(api.get(f"/api/v1/tenants/{TENANT}/roster/users?cursor=", headers=admin), 422, "query.cursor")


@pytest.mark.parametrize("host", ["[f4:Eba6060Df414E:C100D3a0:8:4d]", "[1:2:3:4:5:6:7]", "[1::2::3]", "[::1.2.3.256]"])
def test_a_bracketed_host_that_is_no_ipv6_address_is_refused_by_server_and_document(
    api: TestClient, admin: dict[str, str], host: str
) -> None:
    config = {**SEEDS["ONEROSTER_API"], "baseUrl": f"https://{host}/ims"}
    _problem(_create(api, admin, "ONEROSTER_API", config=config), 422, "config.baseUrl")
    pattern = document()["components"]["schemas"]["OneRosterApiConfig"]["properties"]["baseUrl"]["pattern"]
    assert not re.search(pattern, config["baseUrl"])
    assert re.search(pattern, "https://[::ffff:192.0.2.1]:8443/ims")
