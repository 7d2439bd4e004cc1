"""Provider URLs and SFTP hosts that spell this machine: refused, and nothing reaches a listener here.

A real listener on 127.0.0.1 (and ::1) takes the place of an internal service. Each spelling
points a provider at it; with the production policy the connector refuses before connecting and
the listener's accept queue stays empty. The control tests show the listener does see those
same spellings once ALLOW_PRIVATE_PROVIDER_HOSTS lets them through, so an empty queue means
something.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.egress import LOOPBACK, UNSPECIFIED, EgressPolicy
from libs.connectors.errors import EgressRefused
from libs.connectors.http import build_client
from libs.connectors.registry import build_connector
from libs.db.crypto import generate_key
from libs.enums import ProviderType
from libs.settings import load_settings
from tests.security.conftest import Listener, url_host

MAPPED = "an IPv4-mapped form of a loopback address"
FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"

# (host as written, what the refusal calls it)
SPELLINGS = [
    ("127.0.0.1", LOOPBACK),
    ("127.1", LOOPBACK),
    ("127.0.0.1.", LOOPBACK),
    ("0x7f.1", LOOPBACK),
    ("0x7f.0.0.1", LOOPBACK),
    ("0x7f000001", LOOPBACK),
    ("2130706433", LOOPBACK),
    ("017700000001", LOOPBACK),
    ("localhost", LOOPBACK),
    ("::1", LOOPBACK),
    ("::ffff:127.0.0.1", MAPPED),
    ("::ffff:7f00:1", MAPPED),
    ("0.0.0.0", UNSPECIFIED),
    ("0", UNSPECIFIED),
    ("::", UNSPECIFIED),
]
HOSTS = [host for host, _ in SPELLINGS]


@pytest.fixture(scope="module")
def production() -> EgressPolicy:
    """The policy a production deployment gets from its settings when it sets nothing."""
    settings = load_settings(
        app_env="production", config_encryption_keys=generate_key(), auth_jwt_secret="s" * 40, _env_file=None
    )
    assert settings.private_provider_hosts_allowed is False
    return EgressPolicy.from_settings(settings)


def refusal(host: str, kind: str) -> str:
    return f"{host} resolves to {kind}, which providers may not reach"


def needs_v6(host: str, listener: Listener) -> None:
    if host in ("::1", "::") and listener.v6 is None:
        pytest.skip("this machine has no IPv6 loopback")


def connector(provider: ProviderType, config: dict[str, Any], policy: EgressPolicy) -> Any:
    return build_connector(provider, config, ConnectorContext(provider_id="p", tenant_id="t", egress=policy))


def oneroster(base_url: str, policy: EgressPolicy, **config: Any) -> Any:
    values = {"baseUrl": base_url, "clientId": "c", "clientSecret": "s"} | config
    return connector(ProviderType.ONEROSTER_API, values, policy)


@pytest.mark.parametrize(("host", "kind"), SPELLINGS)
def test_every_loopback_spelling_is_refused_and_nothing_reaches_the_listener(
    host: str, kind: str, listener: Listener, production: EgressPolicy
) -> None:
    needs_v6(host, listener)
    conn = oneroster(f"http://{url_host(host)}:{listener.port}/ims/oneroster/v1p1", production)
    try:
        result = conn.test_connection()
    finally:
        conn.close()

    assert result.success is False
    assert result.message == refusal(host, kind)
    assert listener.connections() == 0


@pytest.mark.parametrize("host", HOSTS)
def test_the_listener_sees_the_same_spellings_once_private_hosts_are_allowed(host: str, listener: Listener) -> None:
    needs_v6(host, listener)
    client = build_client(egress=EgressPolicy(allow_private=True), timeout=httpx.Timeout(0.5))
    with client, pytest.raises(httpx.TimeoutException):
        client.get(f"http://{url_host(host)}:{listener.port}/")

    assert listener.connections() == 1


def test_a_refusal_is_a_config_error_no_worker_retries(listener: Listener, production: EgressPolicy) -> None:
    with build_client(egress=production) as client, pytest.raises(EgressRefused) as caught:
        client.get(f"http://127.1:{listener.port}/")

    assert caught.value.retriable is False
    assert listener.connections() == 0


def test_an_oauth2_token_url_on_loopback_is_refused(
    listener: Listener, production: EgressPolicy, fake_dns: Any
) -> None:
    # the data endpoint is never reached: the token request comes first and is refused
    fake_dns.answers["sis.example.org"] = ["93.184.215.14"]
    conn = oneroster(
        "https://sis.example.org/ims/oneroster/v1p1",
        production,
        auth="oauth2",
        tokenUrl=f"http://0x7f.1:{listener.port}/oauth/token",
    )
    try:
        result = conn.test_connection()
    finally:
        conn.close()

    assert result.message == refusal("0x7f.1", LOOPBACK)
    assert listener.connections() == 0


def test_classlink_and_clever_urls_on_loopback_are_refused(listener: Listener, production: EgressPolicy) -> None:
    classlink = connector(
        ProviderType.CLASSLINK,
        {
            "clientId": "c",
            "clientSecret": "s",
            "tenantId": "springfield-tx",
            "baseUrl": f"http://2130706433:{listener.port}/ims/oneroster/v1p1",
        },
        production,
    )
    clever = connector(
        ProviderType.CLEVER,
        {"accessToken": "t", "districtId": "d1", "apiUrl": f"http://[::ffff:127.0.0.1]:{listener.port}"},
        production,
    )
    clever_oauth = connector(
        ProviderType.CLEVER,
        {"clientId": "c", "clientSecret": "s", "districtId": "d1", "oauthUrl": f"http://017700000001:{listener.port}"},
        production,
    )
    try:
        answers = [c.test_connection() for c in (classlink, clever, clever_oauth)]
    finally:
        for c in (classlink, clever, clever_oauth):
            c.close()

    assert [a.message for a in answers] == [
        refusal("2130706433", LOOPBACK),
        refusal("::ffff:127.0.0.1", MAPPED),
        refusal("017700000001", LOOPBACK),
    ]
    assert listener.connections() == 0


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.1", LOOPBACK),
        ("0x7f000001", LOOPBACK),
        ("0177.0.0.1", LOOPBACK),  # httpx refuses this URL itself; an SFTP host may say it
        ("::ffff:127.0.0.1", MAPPED),
        ("[::1]", LOOPBACK),
        ("localhost", LOOPBACK),
    ],
)
def test_an_sftp_host_on_loopback_is_refused_before_connecting(
    host: str, kind: str, listener: Listener, production: EgressPolicy, tmp_path: Any
) -> None:
    config = {
        "sftp": {
            "host": host,
            "port": listener.port,
            "username": "u",
            "password": "p",
            "hostKeyFingerprint": FINGERPRINT,
        },
        "remotePath": "/exports",
    }
    conn = build_connector(
        ProviderType.ONEROSTER_CSV,
        config,
        ConnectorContext(provider_id="p", tenant_id="t", egress=production, work_dir=tmp_path),
    )
    result = conn.test_connection()

    assert result.success is False
    assert result.message == refusal(host, kind)
    assert listener.connections() == 0


def test_an_sftp_host_on_loopback_reaches_the_listener_when_private_hosts_are_allowed(
    listener: Listener, tmp_path: Any
) -> None:
    config = {
        "sftp": {
            "host": "127.1",
            "port": listener.port,
            "username": "u",
            "password": "p",
            "hostKeyFingerprint": FINGERPRINT,
            "connectTimeout": 0.5,
        },
        "remotePath": "/exports",
    }
    context = ConnectorContext(provider_id="p", egress=EgressPolicy(allow_private=True), work_dir=tmp_path)
    result = build_connector(ProviderType.ONEROSTER_CSV, config, context).test_connection()

    assert result.success is False
    assert "SSH handshake with 127.1" in result.message
    assert listener.connections() == 1
