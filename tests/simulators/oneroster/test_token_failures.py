"""The OAuth 2 token request over real sockets: what fails, how fast, and what the admin reads."""

from __future__ import annotations

import base64
import logging
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devkit.simulators.serving import ThreadedServer
from libs.connectors.base import ExtractStep
from libs.connectors.errors import AuthError
from libs.connectors.oneroster_api import connector as oneroster_connector
from libs.enums import EntityType
from libs.settings import Settings
from tests.simulators.oneroster.conftest import Served

SECRET = "token-secret-5d1e9c"
TERMS = ExtractStep("terms", (EntityType.TERM,))


class TokenEndpoint:
    """A token endpoint on its own socket that answers from a script, then as the simulator does.

    Each scripted answer is (status, JSON body, headers); once the script is used up, requests
    are passed to the simulator's own credentials, so the tokens it issues are good for data.
    """

    def __init__(self, served: Served, *script: tuple[int, dict[str, Any], dict[str, str]]) -> None:
        self.served = served
        self.script = list(script)
        self.requests = 0
        self.server = ThreadedServer(Starlette(routes=[Route("/oauth/token", self._token, methods=["POST"])]))
        self.url = f"{self.server.url}/oauth/token"

    async def _token(self, request: Request) -> Response:
        self.requests += 1
        if self.script:
            status, body, headers = self.script.pop(0)
            return JSONResponse(body, status_code=status, headers=headers)
        credentials = self.served.simulator.credentials
        status, answer = credentials.issue_token(request.headers.get("authorization", ""), await request.body())
        return JSONResponse(answer, status_code=status)


@pytest.fixture
def token_endpoint(serve: Callable[..., Served]) -> Iterator[Callable[..., TokenEndpoint]]:
    started: list[TokenEndpoint] = []

    def start(*script: tuple[int, dict[str, Any], dict[str, str]]) -> TokenEndpoint:
        endpoint = TokenEndpoint(serve(), *script)
        endpoint.server.start()
        started.append(endpoint)
        return endpoint

    yield start
    for endpoint in started:
        endpoint.server.stop()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_secret_absent(*texts: str) -> None:
    basic = base64.b64encode(f"sis-sync:{SECRET}".encode()).decode()
    for text in texts:
        assert SECRET not in text
        assert basic not in text


def test_a_refusing_token_url_fails_the_test_in_seconds_naming_host_and_cause(
    serve: Callable[..., Served], closed_port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    served = serve()
    connector = served.connector(
        auth="oauth2", clientSecret=SECRET, tokenUrl=f"http://127.0.0.1:{closed_port}/oauth/token"
    )

    started = time.monotonic()
    result = connector.test_connection()
    elapsed = time.monotonic() - started

    assert not result.success
    # the default policy of a sync spends about two minutes retrying a refused connection
    assert elapsed < 5, elapsed
    assert result.message.startswith(
        f"Network failure: could not connect to the OAuth 2 token endpoint 127.0.0.1:{closed_port} "
        "(connection refused)."
    )
    assert "tokenUrl" in result.message
    # no token, so the data endpoint was never asked
    assert served.simulator.stats.requests == 0
    assert_secret_absent(result.message, repr(result.details), caplog.text)


def test_a_token_url_speaking_plain_http_to_https_is_a_tls_failure_of_the_token_endpoint(
    serve: Callable[..., Served],
) -> None:
    served = serve()
    token_url = served.base_url.replace("http://", "https://") + "/token"

    started = time.monotonic()
    result = served.connector(auth="oauth2", clientSecret=SECRET, tokenUrl=token_url).test_connection()

    assert time.monotonic() - started < 5
    assert result.message.startswith(f"TLS failure connecting to the OAuth 2 token endpoint {served.server.host}:")
    assert_secret_absent(result.message)


def test_invalid_client_is_asked_once_and_reported_as_rejected_credentials(
    token_endpoint: Callable[..., TokenEndpoint], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    refusal = {"error": "invalid_client", "error_description": "Client authentication failed"}
    endpoint = token_endpoint((401, refusal, {"www-authenticate": "Basic"}))
    connector = endpoint.served.connector(auth="oauth2", clientSecret=SECRET, tokenUrl=endpoint.url)

    result = connector.test_connection()

    assert endpoint.requests == 1
    assert not result.success
    assert result.message == (
        f"Credentials rejected: The token endpoint {endpoint.url} refused the client id and secret "
        "(HTTP 401 invalid_client: Client authentication failed)"
    )
    assert endpoint.served.simulator.stats.requests == 0
    assert_secret_absent(result.message, repr(result.details), caplog.text)


def test_a_token_endpoint_quoting_the_secret_back_has_it_masked(token_endpoint: Callable[..., TokenEndpoint]) -> None:
    refusal = {"error": "invalid_client", "error_description": f"unknown client secret '{SECRET}'"}
    endpoint = token_endpoint((400, refusal, {}))

    result = endpoint.served.connector(auth="oauth2", clientSecret=SECRET, tokenUrl=endpoint.url).test_connection()

    assert result.message.endswith("(HTTP 400 invalid_client: unknown client secret '********')")
    assert_secret_absent(result.message)


def test_a_sync_never_offers_refused_credentials_twice(token_endpoint: Callable[..., TokenEndpoint]) -> None:
    endpoint = token_endpoint(*[(401, {"error": "invalid_client"}, {})] * 3)
    connector = endpoint.served.connector(auth="oauth2", clientSecret=SECRET, tokenUrl=endpoint.url)

    with pytest.raises(AuthError, match="refused the client id and secret") as planning:
        connector.plan()
    with pytest.raises(AuthError, match="refused the client id and secret"):
        list(connector.extract(TERMS))

    assert not planning.value.retriable
    assert endpoint.requests == 1


def test_a_sync_still_retries_a_token_endpoint_that_is_briefly_down(
    token_endpoint: Callable[..., TokenEndpoint],
) -> None:
    busy = (503, {"error": "temporarily_unavailable"}, {"retry-after": "0"})
    endpoint = token_endpoint(busy, busy)
    connector = endpoint.served.connector(auth="oauth2", tokenUrl=endpoint.url)

    records = list(connector.extract(TERMS))

    assert records
    assert endpoint.requests == 3


def test_a_token_endpoint_that_never_answers_ends_at_the_test_deadline(
    serve: Callable[..., Served], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(oneroster_connector, "TEST_DEADLINE_SECONDS", 1.0)
    served = serve()
    # accepts connections (the kernel completes them) and never reads or answers
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        connector = served.connector(auth="oauth2", tokenUrl=f"http://127.0.0.1:{port}/oauth/token")

        started = time.monotonic()
        result = connector.test_connection()
        elapsed = time.monotonic() - started

    # without the deadline: two attempts of the client's 60 s read timeout
    assert elapsed < 3, elapsed
    assert result.message.startswith(f"Network failure: the OAuth 2 token endpoint 127.0.0.1:{port} did not answer")


def test_the_connection_test_deadline_fits_the_api_budget_for_a_test() -> None:
    # past the API's budget the admin reads "no answer within 30 s" instead of the cause
    api_budget = Settings.model_fields["connection_test_timeout_seconds"].default
    assert api_budget - 5 >= oneroster_connector.TEST_DEADLINE_SECONDS
