"""The service log keeps request and roster data out, at any LOG_LEVEL.

An unexpected error is logged with its type and traceback, never its text: a database error's
text quotes the statement's parameters and the offending value. Libraries that log secrets at
debug level (oauthlib's signature base strings, httpx's URLs) stay at WARNING. Each test runs
the process logging of `sis-sync api` (libs/logs.py) and reads what it wrote to stderr.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from libs.connectors.http.oauth import OAuth1Signer
from libs.db.engine import get_engine
from libs.logs import QUIET_LOGGERS, configure_logging
from libs.settings import LogFormat, LogLevel, Settings
from services.api.app import create_app
from tests.support.api import ThreadedApi

# what a district admin typed: it must reach neither the log nor an exception's text
TYPED = "Springfield-Elementary-4711"


@contextmanager
def process_logging(settings: Settings, log_format: LogFormat = LogFormat.TEXT) -> Iterator[None]:
    """The logging of a service process while inside; the test session's logging again after."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level, {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    configure_logging(settings.model_copy(update={"log_level": LogLevel.DEBUG, "log_format": log_format}))
    try:
        yield
    finally:
        handlers, level, levels = saved
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, value in levels.items():
            logging.getLogger(name).setLevel(value)


def lookup(request: Request) -> Response:
    """A route with a bug: the request's value reaches a statement that fails on it."""
    with request.app.state.services.get().engine.connect() as conn:
        conn.execute(text("SELECT CAST(:value AS integer)"), {"value": request.query_params["value"]})
    return Response()


def test_an_unexpected_error_is_logged_with_type_and_traceback_but_without_the_request_data(
    db: Engine, policy_on: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(policy_on)
    app.router.routes.append(Route("/lookup", lookup))
    with process_logging(policy_on), ThreadedApi(policy_on, app) as api:
        response = httpx.get(f"{api.url}/lookup", params={"value": TYPED})
        logged = capsys.readouterr().err

    assert response.status_code == 500
    assert TYPED not in response.text
    assert " ERROR " in logged
    assert "unhandled DataError on GET /lookup" in logged
    assert "Traceback (most recent call last):" in logged
    assert 'in lookup\n    conn.execute(text("SELECT CAST(:value AS integer)")' in logged
    assert "psycopg.errors.InvalidTextRepresentation" in logged
    assert "sqlalchemy.exc.DataError" in logged
    assert TYPED not in logged


def test_in_json_an_unexpected_error_is_one_json_line_whose_exception_has_no_request_data(
    db: Engine, policy_on: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    app = create_app(policy_on)
    app.router.routes.append(Route("/lookup", lookup))
    with process_logging(policy_on, LogFormat.JSON), ThreadedApi(policy_on, app) as api:
        httpx.get(f"{api.url}/lookup", params={"value": TYPED})
        logged = capsys.readouterr().err

    lines = [json.loads(line) for line in logged.splitlines()]
    (error,) = [line for line in lines if line["level"] == "ERROR"]
    assert error["logger"] == "services.api.headers"
    assert error["message"] == "unhandled DataError on GET /lookup"
    assert 'in lookup\n    conn.execute(text("SELECT CAST(:value AS integer)")' in error["exception"]
    assert error["exception"].endswith("sqlalchemy.exc.DataError")
    assert TYPED not in logged


def test_statement_parameters_stay_out_of_database_errors(settings: Settings) -> None:
    with pytest.raises(DBAPIError) as caught, get_engine(settings).connect() as conn:
        conn.execute(text("SELECT 1 FROM no_such_table WHERE name = :name"), {"name": TYPED})

    assert "no_such_table" in str(caught.value)
    assert TYPED not in str(caught.value)


def test_oauthlib_and_httpx_stay_quiet_when_the_service_logs_at_debug(
    db: Engine, policy_on: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    signer = OAuth1Signer("district-key", "district-secret", nonce="n0nce", timestamp="1700000000")
    with process_logging(policy_on), ThreadedApi(policy_on) as api:
        header = signer.authorization("GET", f"{api.url}/healthz")
        signature = header.split('oauth_signature="', 1)[1].split('"', 1)[0]
        httpx.get(f"{api.url}/healthz", params={"oauth_signature": signature})
        logging.getLogger("libs.connectors").debug("the service's own debug lines still show")
        logged = capsys.readouterr().err

    assert "the service's own debug lines still show" in logged
    assert "base string" not in logged
    assert "district-key" not in logged
    assert signature not in logged
