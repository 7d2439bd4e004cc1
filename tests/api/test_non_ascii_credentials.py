"""Credentials with characters beyond ASCII, in a test before save, for every provider type.

Each credential field either reaches the simulator that checks it (and the test succeeds) or,
where the protocol cannot carry such a character at all, is refused with a 422 naming it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from starlette.testclient import TestClient

from devkit.simulators.clever.app import Simulator as CleverSimulator
from devkit.simulators.clever.app import create_app as clever_app
from devkit.simulators.oneroster.app import Simulator as OneRosterSimulator
from devkit.simulators.oneroster.app import SimulatorOptions
from devkit.simulators.serving import serving
from devkit.simulators.sftp.server import SftpSimulator
from libs.connectors.sftp.keys import parse_private_key
from tests.api.conftest import TENANT_A
from tests.simulators.oneroster.district import small_roster

# a letter with a diacritic, a non-Latin-1 sign, a non-BMP character
ID = "sis-sync-ümlaut"
SECRET = "pässwörd-€-𝄞"


def _test(client: TestClient, headers: dict[str, str], provider_type: str, config: dict[str, Any]) -> Any:
    body = {"tenantId": TENANT_A, "providerType": provider_type, "config": config}
    return client.post("/api/v1/providers/test", json=body, headers=headers)


def _succeeds(response: Any) -> None:
    assert response.status_code == 200, response.text
    assert response.json()["success"] is True, response.text
    assert SECRET not in response.text


@pytest.fixture
def clever() -> Iterator[tuple[CleverSimulator, str]]:
    from devkit.generator.district import District
    from devkit.generator.spec import DistrictSpec

    simulator = CleverSimulator(
        District(DistrictSpec(students=20, teachers=2, schools=1, seed=1)), client_id=ID, client_secret=SECRET
    )
    with serving(clever_app(simulator)) as server:
        yield simulator, server.url


def test_clever_client_id_and_secret(
    real_client: TestClient, admin_a: dict[str, str], clever: tuple[CleverSimulator, str]
) -> None:
    simulator, url = clever
    # sent as HTTP Basic in UTF-8 (RFC 7617's charset), which is what the simulator expects
    _succeeds(_test(real_client, admin_a, "CLEVER", simulator.provider_config(url)))


def test_a_clever_access_token_outside_ascii_is_refused_naming_it(
    real_client: TestClient, admin_a: dict[str, str], clever: tuple[CleverSimulator, str]
) -> None:
    simulator, url = clever
    config = {**simulator.provider_config(url), "accessToken": "token-€"}
    del config["clientId"], config["clientSecret"]
    # a bearer token goes into a header as it is: RFC 6750 allows ASCII only
    for response in (
        _test(real_client, admin_a, "CLEVER", config),
        real_client.post(
            "/api/v1/providers",
            json={"tenantId": TENANT_A, "providerType": "CLEVER", "name": "Clever", "config": config},
            headers=admin_a,
        ),
    ):
        assert response.status_code == 422, response.text
        (error,) = response.json()["errors"]
        assert error["field"] == "config.accessToken"
        assert "RFC 6750" in error["detail"]
        assert "token-€" not in response.text


@pytest.mark.parametrize(
    ("flavour", "provider_type", "auth"),
    [("classlink", "CLASSLINK", None), ("generic", "ONEROSTER_API", "oauth1"), ("generic", "ONEROSTER_API", "oauth2")],
)
def test_oneroster_client_id_and_secret(
    real_client: TestClient, admin_a: dict[str, str], flavour: Any, provider_type: str, auth: str | None
) -> None:
    options = SimulatorOptions(flavour=flavour, client_id=ID, client_secret=SECRET, auth=auth or "oauth1")
    simulator = OneRosterSimulator(small_roster(), options)
    with serving(simulator.app) as server:
        config = simulator.provider_config(server.url)
        if auth is not None:
            config["auth"] = auth
        # OAuth 1 signs with the UTF-8 percent-encoded key and secret (RFC 5849 3.6); OAuth 2
        # sends them as HTTP Basic in UTF-8
        _succeeds(_test(real_client, admin_a, provider_type, config))
    assert simulator.stats.rejected == 0


@pytest.mark.parametrize("login", ["password", "privateKeyPassphrase"])
def test_sftp_user_name_password_and_key_passphrase(
    real_client: TestClient, admin_a: dict[str, str], shared_data: Path, login: str
) -> None:
    key = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.OpenSSH,
            serialization.BestAvailableEncryption(SECRET.encode()),
        )
        .decode()
    )
    authorized = [parse_private_key(key, SECRET)] if login == "privateKeyPassphrase" else []
    password = SECRET if login == "password" else None
    folder = shared_data / "oneroster" / "oneroster-mocker"
    with SftpSimulator(folder, username=ID, password=password, authorized_keys=authorized) as simulator:
        config = simulator.provider_config("/")
        if login == "privateKeyPassphrase":
            config["sftp"].update(privateKey=key, privateKeyPassphrase=SECRET)
        _succeeds(_test(real_client, admin_a, "ONEROSTER_CSV", config))
