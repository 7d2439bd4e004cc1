"""How a connection test words a token endpoint it cannot reach (no resolver or network needed)."""

from __future__ import annotations

import socket
from collections.abc import Callable

import httpx
import pytest

from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from tests.connectors.oneroster_api.fake import FakeServer

TOKEN_URL = "https://auth.example.org/oauth/token"


def _unresolvable() -> httpx.ConnectError:
    # the chain httpx builds when getaddrinfo fails: httpx error <- httpcore error <- gaierror
    try:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    except socket.gaierror as exc:
        error = httpx.ConnectError(str(exc))
        error.__cause__ = exc
        return error


@pytest.mark.parametrize(
    ("error", "expected", "attempts"),
    [
        (
            _unresolvable(),
            "Network failure: could not connect to the OAuth 2 token endpoint auth.example.org "
            "(the host name does not resolve). Check tokenUrl,",
            2,
        ),
        (
            httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
            "TLS failure connecting to the OAuth 2 token endpoint auth.example.org: [SSL: CERTIFICATE_VERIFY_FAILED]",
            1,
        ),
        (
            httpx.ConnectTimeout("timed out"),
            "Network failure: the OAuth 2 token endpoint auth.example.org did not answer in time. Check tokenUrl,",
            2,
        ),
    ],
)
def test_an_unreachable_token_endpoint_is_named_with_its_cause(
    server: FakeServer,
    make_connector: Callable[..., OneRosterApiConnector],
    error: Exception,
    expected: str,
    attempts: int,
) -> None:
    def fail_token(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == "/oauth/token":
            raise error
        return None

    server.hook = fail_token

    result = make_connector(auth="oauth2", tokenUrl=TOKEN_URL).test_connection()

    assert not result.success
    assert result.message.startswith(expected), result.message
    assert "s3cret" not in result.message
    # the test's own short policy, not the sync's ten attempts; an untrusted certificate once
    assert [str(r.url) for r in server.requests] == [TOKEN_URL] * attempts


def test_a_token_endpoint_that_keeps_failing_says_so(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.hook = lambda request: httpx.Response(502) if request.url.path == "/oauth/token" else None

    result = make_connector(auth="oauth2", tokenUrl=TOKEN_URL).test_connection()

    assert result.message == "The OAuth 2 token endpoint auth.example.org answered HTTP 502 2 times in a row; giving up"
