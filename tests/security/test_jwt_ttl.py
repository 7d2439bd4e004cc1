"""A bearer token lives at most AUTH_JWT_MAX_TTL_SECONDS: a stolen long-lived token is worth nothing.

A token is refused (401) when its `exp` lies further ahead than the maximum, when `exp - iat`
is longer (issued long ago with a long life), or when it has no `exp`; the REST API and the
UI's sign-in apply the same rule. The service's own token minting stays within the cap.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import Any

import jwt
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from libs.auth import decode_token, mint_token
from libs.settings import Settings
from services.api.app import create_app
from services.cli import token as token_cli
from tests.security.conftest import TENANT

DAY = 86_400
PROVIDERS = f"/api/v1/tenants/{TENANT}/providers"
LOGIN = "/integrations/sis/login"


def signed(settings: Settings, **times: int) -> str:
    assert settings.auth_jwt_secret is not None
    claims: dict[str, Any] = {"sub": "admin@a", "roles": ["DISTRICT_ADMIN"], "tenant_id": TENANT, **times}
    return jwt.encode(claims, settings.auth_jwt_secret, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("lifetime", "status"),
    [
        ({"iat": 0, "exp": DAY + 3600}, 401),  # expires in 25 hours
        ({"iat": -2 * DAY, "exp": 600}, 401),  # issued two days ago, good for ten more minutes
        ({"exp": DAY + 3600}, 401),  # no iat, expires in 25 hours
        ({"iat": 0}, 401),  # never expires
        ({"iat": 0, "exp": DAY - 60}, 200),
        ({"iat": -DAY + 600, "exp": 300}, 200),
        ({"exp": 600}, 200),
    ],
)
def test_a_token_living_longer_than_the_maximum_is_refused(
    api: TestClient, policy_on: Settings, lifetime: dict[str, int], status: int
) -> None:
    now = int(time.time())
    response = api.get(PROVIDERS, headers=bearer(signed(policy_on, **{k: now + v for k, v in lifetime.items()})))

    assert response.status_code == status, response.text
    if status == 401 and "exp" in lifetime:
        assert response.json()["detail"] == "invalid token: its lifetime is longer than the allowed 86400 seconds"


def test_the_maximum_is_a_setting_the_api_and_the_sign_in_both_apply(db: Engine, policy_on: Settings) -> None:
    short = policy_on.model_copy(update={"auth_jwt_max_ttl_seconds": 3600})
    assert short.auth_jwt_secret is not None
    two_hours = mint_token(
        short.auth_jwt_secret, subject="a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT, ttl_seconds=7200
    )
    one_hour = mint_token(
        short.auth_jwt_secret, subject="a", roles=["DISTRICT_ADMIN"], tenant_id=TENANT, ttl_seconds=3600
    )
    with TestClient(create_app(short), follow_redirects=False) as client:
        refused = client.get(PROVIDERS, headers=bearer(two_hours))
        accepted = client.get(PROVIDERS, headers=bearer(one_hour))
        page = client.get(LOGIN)
        match = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text)
        assert match is not None
        sign_in = client.post(LOGIN, data={"token": two_hours, "csrf": match.group(1)})

    assert (refused.status_code, accepted.status_code) == (401, 200)
    assert sign_in.status_code == 401
    assert "This token cannot be used: invalid token: its lifetime is longer than the allowed 3600" in sign_in.text
    assert "sis_session" not in sign_in.headers.get("set-cookie", "")


def test_sis_sync_token_mints_within_the_maximum_and_refuses_a_longer_ttl(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    short = settings.model_copy(update={"auth_jwt_max_ttl_seconds": 3600})
    assert short.auth_jwt_secret is not None
    minted = token_cli.mint(short, role="DISTRICT_ADMIN", tenant=TENANT, sub="dev-admin")
    claims = jwt.decode(minted, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600
    decode_token(minted, short.auth_jwt_secret, max_ttl_seconds=3600)

    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("AUTH_JWT_MAX_TTL_SECONDS", "3600")
    args = argparse.Namespace(role="DISTRICT_ADMIN", tenant=TENANT, sub="dev-admin", ttl=7200, login_url=False)
    with pytest.raises(SystemExit, match=r"--ttl must be between 1 and 3600 seconds \(AUTH_JWT_MAX_TTL_SECONDS\)"):
        token_cli.run(args)
