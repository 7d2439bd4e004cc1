"""The admin UI on the real app, real Postgres and Redis: Starlette's TestClient for the pages,
and (tests/ui/browser) a real API server, worker and Chromium for what a person does."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from libs.auth import mint_token
from libs.db.settings import Settings
from services.api.app import create_app

TENANT_A = "district-a"
TENANT_B = "district-b"
LOGIN = "/integrations/sis/login"


@pytest.fixture
def ui_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"api_requests_per_minute": 1_000_000, "api_sync_triggers_per_minute": 1_000})


@pytest.fixture
def mint(ui_settings: Settings) -> Callable[..., str]:
    secret = ui_settings.auth_jwt_secret
    assert secret is not None

    def make(role: str = "DISTRICT_ADMIN", tenant: str | None = TENANT_A, *, sub: str = "admin@a", ttl: int = 600) -> str:
        return mint_token(secret, subject=sub, roles=[role], tenant_id=tenant, ttl_seconds=ttl)

    return make


@pytest.fixture
def browser_client(db: Engine, ui_settings: Settings) -> Iterator[TestClient]:
    # https base URL: the session cookie is Secure there, as behind a TLS-terminating proxy
    with TestClient(create_app(ui_settings), base_url="https://testserver", follow_redirects=False) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', html)
    assert match, "the page carries no CSRF token"
    return match.group(1)


def sign_in(client: TestClient, token: str) -> str:
    """Signs in through the login form; returns the CSRF token for the session's forms."""
    page = client.get(LOGIN)
    response = client.post(LOGIN, data={"token": token, "csrf": csrf_of(page.text), "next": "/integrations/sis"})
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/integrations/sis").text) if "sis_session" in client.cookies else ""
