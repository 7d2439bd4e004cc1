"""Connection tests against a real socket: each failure has its own message."""

from __future__ import annotations

import socket
from collections.abc import Callable

from libs.enums import ProviderType
from tests.simulators.oneroster.conftest import Served


def test_good_credentials_connect(serve: Callable[..., Served]) -> None:
    served = serve(flavour="classlink")

    result = served.connector(ProviderType.CLASSLINK).test_connection()

    assert result.success, result.message
    assert result.details["orgs"] == 4


def test_oauth2_credentials_connect(serve: Callable[..., Served]) -> None:
    result = serve().connector(auth="oauth2").test_connection()

    assert result.success, result.message
    assert "OAuth 2" in result.message


def test_a_wrong_secret_is_reported_as_rejected_credentials(serve: Callable[..., Served]) -> None:
    result = serve().connector(clientSecret="not-the-secret").test_connection()

    assert not result.success
    assert result.message.startswith("Credentials rejected:")
    assert "invalid signature" in result.message
    assert "not-the-secret" not in result.message


def test_a_wrong_oauth2_secret_is_reported_as_rejected_credentials(serve: Callable[..., Served]) -> None:
    result = serve().connector(auth="oauth2", clientSecret="not-the-secret").test_connection()

    assert result.message.startswith("Credentials rejected:")
    assert "token endpoint" in result.message


def test_a_wrong_base_url_is_reported_as_such(serve: Callable[..., Served]) -> None:
    served = serve()

    result = served.connector(baseUrl=served.server.url + "/ims/oneroster/v1p2").test_connection()

    assert result.message.startswith("Wrong base URL:")


def test_tls_failure_is_reported_as_such(serve: Callable[..., Served]) -> None:
    served = serve()
    # https to a server that speaks plain HTTP fails in the TLS handshake
    tls_url = served.base_url.replace("http://", "https://")

    result = served.connector(baseUrl=tls_url).test_connection()

    assert result.message.startswith("TLS failure connecting to 127.0.0.1")


def test_an_unreachable_host_is_reported_as_a_network_failure(serve: Callable[..., Served]) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    served = serve()

    result = served.connector(baseUrl=f"http://127.0.0.1:{closed_port}/ims/oneroster/v1p1").test_connection()

    assert result.message.startswith("Network failure: could not connect to 127.0.0.1")
