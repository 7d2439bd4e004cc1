"""OAuth 2 tokens and what a connection test tells a district admin."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest

from libs.connectors.base import ExtractStep
from libs.connectors.errors import AuthError, NotFoundError, ProtocolError
from libs.connectors.http.oauth import ClientCredentials, Token
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from libs.enums import EntityType
from tests.connectors.oneroster_api.fake import BASE_URL, FakeServer

TERMS = ExtractStep("terms", (EntityType.TERM,))


class TokenEndpoint:
    """Issues numbered tokens and refuses the ones a test has revoked."""

    def __init__(self, server: FakeServer, expires_in: int = 3600) -> None:
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.expires_in = expires_in
        self.forms: list[dict[str, list[str]]] = []
        server.hook = self

    def __call__(self, request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/token"):
            assert request.method == "POST"
            if request.headers.get("authorization") != httpx.BasicAuth("client-1", "s3cret")._auth_header:
                return httpx.Response(401, json={"error": "invalid_client"})
            self.forms.append(parse_qs(request.content.decode()))
            token = f"tok-{len(self.issued) + 1}"
            self.issued.append(token)
            body = {"access_token": token, "token_type": "Bearer", "expires_in": self.expires_in}
            return httpx.Response(200, json=body)
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        if bearer not in self.issued or bearer in self.revoked:
            status = {"imsx_codeMajor": "failure", "imsx_codeMinor": "unauthorized"}
            return httpx.Response(401, json={"statusInfoSet": [status]})
        return None


def test_oauth2_fetches_one_token_and_reuses_it(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    tokens = TokenEndpoint(server)
    connector = make_connector(
        auth="oauth2", scope="https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"
    )

    list(connector.extract(TERMS))
    list(connector.extract(ExtractStep("users", (EntityType.USER,))))

    assert tokens.issued == ["tok-1"]
    assert tokens.forms[0] == {
        "grant_type": ["client_credentials"],
        "scope": ["https://purl.imsglobal.org/spec/or/v1p1/scope/roster-core.readonly"],
    }
    assert server.requests[0].url == f"{BASE_URL}/token"


def test_oauth2_token_refused_mid_extract_is_replaced_once(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    tokens = TokenEndpoint(server)
    connector = make_connector(auth="oauth2", tokenUrl="https://auth.example.org/oauth/token")
    list(connector.extract(TERMS))
    tokens.revoked.add("tok-1")

    assert len(list(connector.extract(TERMS))) == 2
    assert tokens.issued == ["tok-1", "tok-2"]


def test_a_token_is_refreshed_before_it_expires() -> None:
    now = {"t": 0.0}
    issued: list[str] = []

    def fetch() -> Token:
        issued.append(f"tok-{len(issued) + 1}")
        return Token(issued[-1], now["t"] + 3600 - 60)

    credentials = ClientCredentials(fetch, clock=lambda: now["t"])
    assert credentials.token() == "tok-1"
    now["t"] = 3500.0
    assert credentials.token() == "tok-1"
    now["t"] = 3541.0
    assert credentials.token() == "tok-2"


def test_refused_client_credentials_are_an_auth_error_without_the_secret(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    TokenEndpoint(server)
    connector = make_connector(auth="oauth2", clientSecret="wrong-secret")

    with pytest.raises(AuthError, match="refused the client id and secret") as caught:
        list(connector.extract(TERMS))
    assert "wrong-secret" not in str(caught.value)


def test_a_token_that_cannot_go_into_a_header_is_a_protocol_error(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.hook = lambda request: (
        httpx.Response(200, json={"access_token": "tok-€", "token_type": "Bearer"})
        if request.url.path.endswith("/token")
        else None
    )
    connector = make_connector(auth="oauth2")

    with pytest.raises(ProtocolError, match="issued an access_token that is no bearer token"):
        list(connector.extract(TERMS))


def test_a_missing_token_endpoint_names_the_token_url(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    connector = make_connector(auth="oauth2")

    with pytest.raises(NotFoundError, match=r"No OAuth 2 token endpoint at .*/token"):
        list(connector.extract(TERMS))


def test_connection_succeeds_with_good_credentials(make_connector: Callable[..., OneRosterApiConnector]) -> None:
    result = make_connector().test_connection()

    assert result.success
    assert result.message == f"Connected to {BASE_URL} (OAuth 1.0a HMAC-SHA256)"
    assert result.details["orgs"] == 3


def test_connection_reports_a_refused_signature(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    body = {"statusInfoSet": [{"imsx_codeMajor": "failure", "imsx_description": "Invalid signature"}]}
    server.hook = lambda request: httpx.Response(401, json=body)

    result = make_connector().test_connection()

    assert not result.success
    assert result.message.startswith("Credentials rejected: ")
    assert "Invalid signature" in result.message


def test_connection_reports_a_wrong_base_url(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    result = make_connector(baseUrl="https://sis.example.org/api").test_connection()

    assert not result.success
    assert result.message.startswith("Wrong base URL: ")
    assert "/ims/oneroster/v1p1" in result.message


def test_connection_reports_a_web_page_where_the_api_should_be(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.hook = lambda request: httpx.Response(200, html="<html>Welcome</html>")

    result = make_connector().test_connection()

    assert result.message.startswith("Wrong base URL: ")
    assert "text/html" in result.message


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"), "TLS failure connecting to"),
        (httpx.ConnectError("[Errno -2] Name or service not known"), "Network failure: could not connect to"),
        (httpx.ConnectTimeout("timed out"), "Network failure: sis.example.org did not answer in time"),
    ],
)
def test_connection_tells_tls_from_network_failures(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector], error: Exception, expected: str
) -> None:
    def fail(request: httpx.Request) -> httpx.Response:
        raise error

    server.hook = fail

    result = make_connector().test_connection()

    assert not result.success
    assert result.message.startswith(expected)
    # a connection test retries a network failure once, briefly; an untrusted certificate not at all
    assert len(server.requests) == (1 if expected.startswith("TLS") else 2)
