"""No response body, response header, log line or audit entry ever contains a stored secret."""

from __future__ import annotations

import copy
import http.server
import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import Engine, text

from libs.connectors import registry
from libs.enums import ProviderType
from tests.api.conftest import TENANT_A, RecordingClient, auth, provider_body
from tests.api.fake_connectors import CONFIGS, SECRETS


def test_a_full_session_with_every_provider_type_never_shows_a_secret(
    client: RecordingClient,
    admin_a: dict[str, str],
    platform: dict[str, str],
    db: Engine,
    all_logs: pytest.LogCaptureFixture,
) -> None:
    for provider_type in ProviderType:
        created = client.post("/api/v1/providers", json=provider_body(provider_type), headers=admin_a).json()
        url = f"/api/v1/providers/{created['id']}"
        client.get(url, headers=admin_a)
        client.get(url, headers=platform)
        client.patch(url, json={"config": created["config"], "name": "renamed"}, headers=admin_a)
        client.post(f"{url}/test", headers=admin_a)
        refused = copy.deepcopy(CONFIGS[provider_type])
        if "clientId" in refused:
            refused["clientId"] = "refused"
        client.post(f"{url}/test", json={"config": refused}, headers=admin_a)
        client.post(f"{url}/sync", headers=admin_a)
        client.get(f"{url}/sync/status", headers=admin_a)
        client.get(f"{url}/runs", headers=admin_a)
        client.post(f"{url}/sync/cancel", headers=admin_a)
        # invalid configs that carry secrets: the problem must not echo them
        bad = dict(CONFIGS[provider_type], unexpected=SECRETS["clever-secret"])
        client.post("/api/v1/providers", json=provider_body(provider_type, config=bad), headers=admin_a)
        client.patch(url, json={"config": {"clientSecret": SECRETS["oneroster"]}}, headers=admin_a)
        client.post(
            "/api/v1/providers/test",
            json={"tenantId": TENANT_A, "providerType": provider_type.value, "config": refused},
            headers=admin_a,
        )
        client.delete(url, headers=admin_a)
        client.get(url, headers=platform)
    client.get(f"/api/v1/tenants/{TENANT_A}/providers?includeDeleted=true", headers=platform)

    haystacks = _haystacks(client, all_logs, db)
    assert len(client.bodies) > 60
    assert haystacks["audit"].count("\n") + 1 >= 4 * 5
    _assert_absent(SECRETS, haystacks)


def _haystacks(client: RecordingClient, logs: pytest.LogCaptureFixture, db: Engine) -> dict[str, str]:
    """Everything a secret could leak into: responses (bodies and headers), log lines, audit, runs."""
    with db.connect() as conn:
        audit = conn.execute(text("SELECT details::text FROM audit_log")).scalars().all()
        runs = conn.execute(text("SELECT options::text FROM sis_sync_runs")).scalars().all()
    return {
        "responses": "\n".join(client.bodies),
        "logs": "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in logs.records) + "\n" + logs.text,
        "audit": "\n".join(audit),
        "runs": "\n".join(runs),
    }


def _assert_absent(secrets: dict[str, str], haystacks: dict[str, str]) -> None:
    for where, haystack in haystacks.items():
        for name, secret in secrets.items():
            assert secret not in haystack, f"{name} leaked into {where}"
    assert "********" in haystacks["responses"]  # the masks were there, so the check looked at configs


def test_masking_is_driven_by_the_secret_fields_of_every_connector_in_this_build() -> None:
    """The real registry, not the stand-ins: whatever a config model declares secret is masked."""
    import json

    from libs.connectors import registry
    from libs.providers import configs, masking

    types = registry.supported_types()
    if not types:
        pytest.skip("no provider connector is part of this build yet")
    for provider_type in types:
        paths = configs.secret_paths(provider_type)
        assert paths is not None
        config: dict[str, Any] = {}
        for i, path in enumerate(paths):
            *parents, leaf = path.split(".")
            node = config
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = f"SECRET-{i}-{provider_type.value}"
        masked = json.dumps(masking.mask(config, paths))
        assert "SECRET-" not in masked, provider_type
        assert masked.count('"has') == len(paths)


# nothing listens on port 1 of the loopback: a connection test is refused at once
UNREACHABLE = "http://127.0.0.1:1"
FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"


def _real_configs(
    secrets: dict[str, str], token_server: str
) -> list[tuple[ProviderType, dict[str, Any], dict[str, Any]]]:
    """(type, config, the same config with every secret rotated) in the real connectors' shapes."""
    key = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(secrets["sftp-passphrase"].encode()),
        )
        .decode()
    )
    # the key is multi-line, so a leak in a JSON body would show it with escaped newlines: each
    # line of its base64 body is a needle of its own
    secrets["sftp-private-key"] = key.strip()
    for i, line in enumerate(key.strip().splitlines()[1:-1]):
        secrets[f"sftp-private-key-line-{i}"] = line
    oneroster = {"baseUrl": f"{UNREACHABLE}/ims/oneroster/v1p1", "clientId": "or-client", "pageSize": 100}
    sftp = {
        "host": "127.0.0.1",
        "port": 1,
        "username": "sis-sync",
        "password": secrets["sftp-password"],
        "privateKey": key,
        "privateKeyPassphrase": secrets["sftp-passphrase"],
        "hostKeyFingerprint": FINGERPRINT,
        "connectTimeout": 2,
    }
    clever = {"districtId": "d-1", "apiUrl": UNREACHABLE, "oauthUrl": UNREACHABLE, "maxRetryWaitSeconds": 1}
    return [
        (
            ProviderType.CLEVER,
            {**clever, "clientId": "clever-client", "clientSecret": secrets["clever-client-secret"]},
            {"clientSecret": secrets["clever-client-secret-rotated"]},
        ),
        (
            ProviderType.CLEVER,
            {**clever, "accessToken": secrets["clever-access-token"]},
            {"accessToken": secrets["clever-access-token-rotated"]},
        ),
        (
            ProviderType.CLASSLINK,
            {
                "clientId": "cl-client",
                "clientSecret": secrets["classlink-secret"],
                "tenantId": "springtownisd-tx",
                "baseUrl": f"{UNREACHABLE}/ims/oneroster/v1p1",
            },
            {"clientSecret": secrets["classlink-secret-rotated"]},
        ),
        (
            ProviderType.ONEROSTER_API,
            {**oneroster, "clientSecret": secrets["oneroster-oauth1-secret"]},
            {"clientSecret": secrets["oneroster-oauth1-secret-rotated"]},
        ),
        (
            ProviderType.ONEROSTER_API,
            {
                **oneroster,
                "auth": "oauth2",
                "tokenUrl": f"{token_server}/oauth/token",
                "clientSecret": secrets["oneroster-oauth2-secret"],
            },
            {"clientSecret": secrets["oneroster-oauth2-secret-rotated"]},
        ),
        (
            ProviderType.ONEROSTER_CSV,
            {"sftp": sftp, "remotePath": "/exports/oneroster"},
            {"sftp": {**sftp, "password": secrets["sftp-password-rotated"]}},
        ),
    ]


class _RefuseCredentials(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = b'{"error": "invalid_client"}'
        self.send_response(401)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the test's own log capture is about the app, not this stand-in server


@pytest.fixture
def token_server() -> Iterator[str]:
    """An OAuth 2 token endpoint that refuses every client at once (a 401, not a retry)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _RefuseCredentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _rotate(config: dict[str, Any], rotation: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(config)
    for name, value in rotation.items():
        merged[name] = {**merged[name], **value} if isinstance(value, dict) else value
    return merged


def test_the_real_connectors_of_every_provider_type_never_show_a_secret(
    real_client: RecordingClient,
    token: Callable[..., str],
    platform: dict[str, str],
    db: Engine,
    all_logs: pytest.LogCaptureFixture,
    token_server: str,
) -> None:
    assert set(registry.supported_types()) == set(ProviderType)
    run = uuid.uuid4().hex[:8]
    names = [
        "clever-client-secret",
        "clever-access-token",
        "classlink-secret",
        "oneroster-oauth1-secret",
        "oneroster-oauth2-secret",
        "sftp-password",
        "sftp-passphrase",
    ]
    secrets = {n: f"{n.upper()}-{run}" for n in names} | {f"{n}-rotated": f"{n.upper()}-NEW-{run}" for n in names}
    cases = _real_configs(secrets, token_server)
    assert {provider_type for provider_type, _, _ in cases} == set(ProviderType)
    list_url = f"/api/v1/tenants/{TENANT_A}/providers"
    for i, (provider_type, config, rotation) in enumerate(cases):
        # an admin per provider: one token would run out of connection tests per minute
        admin_a = auth(token(sub=f"admin-{i}@a"))
        created = real_client.post(
            "/api/v1/providers", json=provider_body(provider_type, config=config), headers=admin_a
        )
        assert created.status_code == 201, created.text
        url = f"/api/v1/providers/{created.json()['id']}"
        masked = created.json()["config"]
        assert real_client.get(url, headers=admin_a).status_code == 200
        assert real_client.get(url, headers=platform).status_code == 200
        assert real_client.get(list_url, headers=admin_a).status_code == 200
        # the UI's round trip: the masked config back with a harmless change keeps the secrets
        renamed = real_client.patch(url, json={"config": masked, "name": "renamed"}, headers=admin_a)
        assert renamed.status_code == 200, renamed.text

        unsaved = real_client.post(
            "/api/v1/providers/test",
            json={"tenantId": TENANT_A, "providerType": provider_type.value, "config": config},
            headers=admin_a,
        )
        saved = real_client.post(f"{url}/test", headers=admin_a)
        edited = real_client.post(f"{url}/test", json={"config": masked}, headers=admin_a)
        for tested in (unsaved, saved, edited):
            assert tested.status_code == 200, tested.text
            assert tested.json()["success"] is False, tested.json()
            # refused at once (the port, or the token endpoint), not given up on at the API's timeout
            assert "No answer" not in tested.json()["message"], tested.json()

        rotated = real_client.patch(url, json={"config": _rotate(config, rotation)}, headers=admin_a)
        assert rotated.status_code == 200, rotated.text
        real_client.get(url, headers=admin_a)
        real_client.post(f"{url}/test", headers=admin_a)
        # a rejected config that carries a secret: the problem names the field, not the value
        bad = real_client.patch(
            url, json={"config": {**config, "unexpected": secrets["classlink-secret"]}}, headers=admin_a
        )
        assert bad.status_code == 422
    listed = real_client.get(list_url, headers=platform).json()
    assert len(listed["providers"]) == len(cases)
    assert any(r.levelno == logging.DEBUG for r in all_logs.records), "DEBUG lines were captured too"
    _assert_absent(secrets, _haystacks(real_client, all_logs, db))
