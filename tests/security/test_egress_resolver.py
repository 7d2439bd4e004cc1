"""Names that resolve into the deployment's own networks, through a stubbed resolver.

Nothing here may connect anywhere but loopback, so the resolver is the test's table
(`fake_dns`) and `connects` records every socket connect (and refuses it): a refusal must come
before any connection attempt, and an allowed destination is seen as the address connected to.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.egress import (
    CGNAT,
    LINK_LOCAL,
    LOOPBACK,
    METADATA,
    MULTICAST,
    PRIVATE,
    RESERVED,
    EgressPolicy,
)
from libs.connectors.errors import EgressRefused, ProviderUnavailable
from libs.connectors.http import HttpSession, RetryPolicy, build_client
from libs.connectors.http.client import EgressTransport
from libs.connectors.registry import build_connector
from libs.connectors.sftp import SftpSettings, connect
from libs.db.crypto import generate_key
from libs.enums import ProviderType
from libs.settings import SettingsError, load_settings
from tests.security.conftest import Connects, FakeDns, Listener
from tests.security.tls import TlsServer

PUBLIC = "93.184.215.14"
STRICT = EgressPolicy()

# (what the name resolves to, what the refusal calls it)
ANSWERS = [
    (["10.0.0.5"], PRIVATE),
    (["172.20.1.1"], PRIVATE),
    (["192.168.0.10"], PRIVATE),
    (["fd00::1"], PRIVATE),
    (["169.254.169.254"], METADATA),
    (["fd00:ec2::254"], METADATA),
    (["169.254.10.10"], LINK_LOCAL),
    (["fe80::1"], LINK_LOCAL),
    (["100.64.1.1"], CGNAT),
    (["100.127.255.254"], CGNAT),
    (["224.0.0.251"], MULTICAST),
    (["ff02::1"], MULTICAST),
    (["240.0.0.1"], RESERVED),
    (["::ffff:10.0.0.1"], f"an IPv4-mapped form of {PRIVATE}"),
    (["::ffff:169.254.169.254"], f"an IPv4-mapped form of {METADATA}"),
    (["64:ff9b::a9fe:a9fe"], f"a NAT64 form of {METADATA}"),
    (["64:ff9b::7f00:1"], f"a NAT64 form of {LOOPBACK}"),
    (["2002:a9fe:a9fe::1"], f"a 6to4 form of {METADATA}"),
    (["2002:a00:1::1"], f"a 6to4 form of {PRIVATE}"),
    # a name that answers a public and a private address is refused whichever would come first
    ([PUBLIC, "10.1.2.3"], PRIVATE),
    (["2606:4700::6810:84e5", "127.0.0.1"], LOOPBACK),
]


def refusal(host: str, kind: str) -> str:
    return f"{host} resolves to {kind}, which providers may not reach"


@pytest.mark.parametrize(("addresses", "kind"), ANSWERS)
def test_names_resolving_into_internal_networks_are_refused_without_a_connection(
    addresses: list[str], kind: str, fake_dns: FakeDns, connects: Connects
) -> None:
    fake_dns.answers["sis.district.example"] = addresses
    config = {"baseUrl": "https://sis.district.example/ims/oneroster/v1p1", "clientId": "c", "clientSecret": "s"}
    conn = build_connector(ProviderType.ONEROSTER_API, config, ConnectorContext(provider_id="p", egress=STRICT))
    try:
        result = conn.test_connection()
    finally:
        conn.close()

    assert result.message == refusal("sis.district.example", kind)
    assert fake_dns.asked == ["sis.district.example"]
    assert connects.targets == []


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("169.254.169.254", METADATA),
        ("0xa9.0xfe.0xa9.0xfe", METADATA),
        ("2852039166", METADATA),
        ("10.1", PRIVATE),
        ("[::ffff:a9fe:a9fe]", f"an IPv4-mapped form of {METADATA}"),
        ("[fe80::1]", LINK_LOCAL),
        ("100.64.0.1", CGNAT),
    ],
)
def test_internal_addresses_written_in_the_url_are_refused_without_asking_dns(
    host: str, kind: str, fake_dns: FakeDns, connects: Connects
) -> None:
    with build_client(egress=STRICT) as client, pytest.raises(EgressRefused) as caught:
        client.get(f"http://{host}/latest/meta-data/")

    assert caught.value.message == refusal(host.strip("[]"), kind)
    assert fake_dns.asked == []
    assert connects.targets == []


def test_an_sftp_host_resolving_to_the_metadata_address_is_refused_without_a_connection(
    fake_dns: FakeDns, connects: Connects, tmp_path: Any
) -> None:
    fake_dns.answers["files.district.example"] = ["169.254.169.254"]
    config = {
        "sftp": {
            "host": "files.district.example",
            "username": "u",
            "password": "p",
            "hostKeyFingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        },
        "remotePath": "/exports",
    }
    context = ConnectorContext(provider_id="p", egress=STRICT, work_dir=tmp_path)
    result = build_connector(ProviderType.ONEROSTER_CSV, config, context).test_connection()

    assert result.message == refusal("files.district.example", METADATA)
    assert connects.targets == []


# --- DNS rebinding ----------------------------------------------------------------------------


def rebinding(first: list[str], then: list[str]) -> Any:
    """A resolver that answers `first` once and `then` ever after (a rebinding attacker's DNS)."""
    answers = iter([first])

    def answer() -> list[str]:
        return next(answers, then)

    return answer


def test_a_dns_answer_that_changes_after_the_check_cannot_reach_the_refused_address(
    fake_dns: FakeDns, connects: Connects
) -> None:
    fake_dns.answers["rebind.example"] = rebinding([PUBLIC], ["127.0.0.1"])
    session = HttpSession(build_client(egress=STRICT), policy=RetryPolicy(max_attempts=1))

    with pytest.raises(ProviderUnavailable, match="Connection refused"):  # the recorded connect refuses
        session.get("http://rebind.example:8080/ims/oneroster/v1p1/orgs")

    # one lookup, and the connection went to the address that lookup gave and the policy checked
    assert fake_dns.asked == ["rebind.example"]
    assert connects.targets == [(PUBLIC, 8080)]

    # the next connection looks the name up again and is checked again: refused, never connected
    with pytest.raises(EgressRefused, match=r"rebind\.example resolves to a loopback address"):
        session.get("http://rebind.example:8080/ims/oneroster/v1p1/orgs")
    assert fake_dns.asked == ["rebind.example", "rebind.example"]
    assert connects.targets == [(PUBLIC, 8080)]
    session.close()


def test_sftp_connects_to_the_checked_address(fake_dns: FakeDns, connects: Connects) -> None:
    fake_dns.answers["files.district.example"] = rebinding([PUBLIC], ["127.0.0.1"])
    settings = SftpSettings.model_validate(
        {
            "host": "files.district.example",
            "username": "u",
            "password": "p",
            "hostKeyFingerprint": "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s",
        }
    )
    with pytest.raises(ProviderUnavailable, match="refused the connection"), connect(settings, egress=STRICT):
        pass

    assert fake_dns.asked == ["files.district.example"]
    assert connects.targets == [(PUBLIC, 22)]


# --- what opens the policy ----------------------------------------------------------------------


def production(**settings: Any) -> EgressPolicy:
    values = {"config_encryption_keys": generate_key(), "auth_jwt_secret": "s" * 40, "_env_file": None}
    return EgressPolicy.from_settings(load_settings(app_env="production", **(values | settings)))


def test_provider_egress_allow_lets_a_listed_cidr_and_host_through(fake_dns: FakeDns, connects: Connects) -> None:
    policy = production(provider_egress_allow="10.20.0.0/16, sis.internal.example")
    fake_dns.answers["sis.internal.example"] = ["10.9.9.9"]
    fake_dns.answers["other.internal.example"] = ["10.9.9.9"]

    with build_client(egress=policy, timeout=httpx.Timeout(1.0)) as client:
        for url in ("http://10.20.3.4:8443/", "http://sis.internal.example:8443/"):
            with pytest.raises(httpx.ConnectError):  # the recorded connect refuses
                client.get(url)
        for url, host, kind in (
            ("http://10.21.0.1/", "10.21.0.1", PRIVATE),
            ("http://other.internal.example/", "other.internal.example", PRIVATE),
            ("http://169.254.169.254/", "169.254.169.254", METADATA),
        ):
            with pytest.raises(EgressRefused) as caught:
                client.get(url)
            assert caught.value.message == refusal(host, kind)

    assert connects.targets == [("10.20.3.4", 8443), ("10.9.9.9", 8443)]


def test_a_loopback_cidr_in_provider_egress_allow_reaches_the_listener(listener: Listener) -> None:
    policy = production(provider_egress_allow="127.0.0.0/8")
    with build_client(egress=policy, timeout=httpx.Timeout(0.5)) as client, pytest.raises(httpx.TimeoutException):
        client.get(f"http://127.0.0.1:{listener.port}/")

    assert listener.connections() == 1


def test_allow_private_provider_hosts_opens_loopback_but_not_the_metadata_address(
    listener: Listener, connects: Connects
) -> None:
    policy = production(allow_private_provider_hosts=True)
    assert policy.addresses("127.1", listener.port)
    assert policy.addresses("10.0.0.1", 80)
    for host, kind in (("169.254.169.254", METADATA), ("224.0.0.1", MULTICAST), ("240.0.0.1", RESERVED)):
        with pytest.raises(EgressRefused) as caught:
            policy.addresses(host, 80)
        assert caught.value.message == refusal(host, kind)
    assert connects.targets == []


def test_the_private_host_default_follows_app_env(monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {"config_encryption_keys": generate_key(), "auth_jwt_secret": "s" * 40, "_env_file": None}
    for name in ("ALLOW_PRIVATE_PROVIDER_HOSTS", "PROVIDER_EGRESS_ALLOW", "APP_ENV"):
        monkeypatch.delenv(name, raising=False)
    assert load_settings(**secrets).private_provider_hosts_allowed is False
    assert load_settings(app_env="development").private_provider_hosts_allowed is True
    assert load_settings(app_env="test").private_provider_hosts_allowed is True

    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("ALLOW_PRIVATE_PROVIDER_HOSTS", "false")
    monkeypatch.setenv("PROVIDER_EGRESS_ALLOW", "10.0.0.0/8,sis.example.org")
    settings = load_settings()
    assert settings.private_provider_hosts_allowed is False
    assert settings.provider_egress_allow == ("10.0.0.0/8", "sis.example.org")

    monkeypatch.setenv("PROVIDER_EGRESS_ALLOW", "10.0.0.0/8,not a host")
    with pytest.raises(SettingsError, match="PROVIDER_EGRESS_ALLOW: 'not a host' is neither a CIDR"):
        load_settings()


# --- TLS to the checked address still names the host -------------------------------------------


def test_tls_names_the_url_host_while_connecting_to_the_checked_address(fake_dns: FakeDns, tmp_path: Path) -> None:
    fake_dns.answers["sis.district.test"] = ["127.0.0.1"]
    policy = EgressPolicy(allowed_hosts=frozenset({"sis.district.test"}))
    with TlsServer("sis.district.test", tmp_path) as server:
        transport = EgressTransport(policy, verify=ssl.create_default_context(cafile=str(server.ca_file)))
        with httpx.Client(transport=transport) as client:
            response = client.get(f"https://sis.district.test:{server.port}/ims/oneroster/v1p1/orgs")

    assert response.status_code == 200
    assert server.seen_sni == ["sis.district.test"]
    assert server.seen_host == [f"sis.district.test:{server.port}"]
    assert fake_dns.asked == ["sis.district.test"]


def test_a_certificate_for_another_name_is_still_refused(fake_dns: FakeDns, tmp_path: Path) -> None:
    fake_dns.answers["sis.district.test"] = ["127.0.0.1"]
    policy = EgressPolicy(allowed_hosts=frozenset({"sis.district.test"}))
    with TlsServer("other.district.test", tmp_path) as server:
        transport = EgressTransport(policy, verify=ssl.create_default_context(cafile=str(server.ca_file)))
        with httpx.Client(transport=transport) as client, pytest.raises(httpx.ConnectError, match="CERTIFICATE"):
            client.get(f"https://sis.district.test:{server.port}/")
