"""Every response says nosniff, tenant data is never cached, production adds HSTS and Secure sessions.

The real app on uvicorn over a loopback socket, as a browser or an API client sees it: JSON,
problem JSON (401, 404, 405, 422 and an unexpected 500), a redirect, the UI's pages and its
static files. A JSON answer that quotes a tenant's text must never be sniffed into a page, and
no cache between the service and the admin may keep what one district's admin saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
from sqlalchemy import Engine
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from libs.auth import mint_token
from libs.settings import AppEnv, Settings
from services.api.app import create_app
from tests.security.conftest import TENANT
from tests.support.api import ThreadedApi

LOGIN = "/integrations/sis/login"
HSTS = "max-age=31536000; includeSubDomains"


def broken(request: Request) -> Response:
    """A route with a bug: what an unexpected error looks like from outside."""
    raise RuntimeError("a bug")


@contextmanager
def served(settings: Settings) -> Iterator[httpx.Client]:
    app = create_app(settings)
    app.router.routes.append(Route("/broken", broken))
    with ThreadedApi(settings, app) as api, httpx.Client(base_url=api.url, follow_redirects=False) as client:
        yield client


def answers(client: httpx.Client, settings: Settings) -> dict[str, httpx.Response]:
    assert settings.auth_jwt_secret is not None
    token = mint_token(settings.auth_jwt_secret, subject="admin@a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT)
    auth = {"Authorization": f"Bearer {token}"}
    seen = {
        "API JSON": client.get(f"/api/v1/tenants/{TENANT}/providers", headers=auth),
        "OpenAPI": client.get("/openapi.json"),
        "401": client.get(f"/api/v1/tenants/{TENANT}/providers"),
        "422": client.post("/api/v1/providers", json={"tenantId": TENANT}, headers=auth),
        "404": client.get("/no/such/page"),
        "405": client.delete("/healthz"),
        "500": client.get("/broken"),
        "redirect": client.get("/integrations/sis"),
        "UI page": client.get(LOGIN),
        "static": client.get("/integrations/sis/static/ui.js"),
    }
    statuses = {name: r.status_code for name, r in seen.items()}
    assert statuses == {
        "API JSON": 200,
        "OpenAPI": 200,
        "401": 401,
        "422": 422,
        "404": 404,
        "405": 405,
        "500": 500,
        "redirect": 303,
        "UI page": 200,
        "static": 200,
    }
    return seen


def test_every_response_is_nosniff_and_only_static_files_may_be_cached(db: Engine, policy_on: Settings) -> None:
    with served(policy_on) as client:
        seen = answers(client, policy_on)

    for name, response in seen.items():
        assert response.headers.get("x-content-type-options") == "nosniff", name
        assert "strict-transport-security" not in response.headers, name
        if name != "static":
            assert response.headers.get("cache-control") == "no-store", name
    assert "no-store" not in seen["static"].headers.get("cache-control", "")
    assert seen["500"].json()["detail"] == "internal error; the service log has the details"


def test_production_sends_hsts_everywhere_and_a_secure_session_cookie_even_over_plain_http(
    db: Engine, policy_on: Settings
) -> None:
    production = policy_on.model_copy(update={"app_env": AppEnv.PRODUCTION})
    assert production.auth_jwt_secret is not None
    token = mint_token(production.auth_jwt_secret, subject="admin@a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT)
    with served(production) as client:
        seen = answers(client, production)
        # no https and no X-Forwarded-Proto: a proxy that forgot to say so
        client.cookies.clear()
        page = client.get(LOGIN)
        nonce = page.cookies["sis_csrf"]
        match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert match is not None
        signed_in = client.post(
            LOGIN, data={"token": token, "csrf": match.group(1)}, headers={"Cookie": f"sis_csrf={nonce}"}
        )

    for name, response in seen.items():
        assert response.headers.get("strict-transport-security") == HSTS, name
        assert response.headers.get("x-content-type-options") == "nosniff", name
    assert signed_in.status_code == 303, signed_in.text
    cookies = signed_in.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("sis_session="))
    assert "Secure" in session
    assert all("Secure" in c for c in cookies)
