"""The real app on real Postgres and Redis, driven over HTTP with Starlette's TestClient."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from libs.auth import mint_token
from libs.connectors import registry
from libs.enums import ProviderType
from libs.settings import Settings
from services.api.app import create_app
from tests.api.fake_connectors import CONFIGS, TARGETS

TENANT_A = "district-a"
TENANT_B = "district-b"


@pytest.fixture
def connectors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_CONNECTORS", dict(TARGETS))


@pytest.fixture
def api_settings(settings: Settings) -> Settings:
    # a key space of their own: the session's end-to-end worker (when this xdist process ran those
    # tests first) must not take the runs these tests expect to stay pending
    return settings.model_copy(
        update={"api_requests_per_minute": 1_000_000, "redis_namespace": f"{settings.redis_namespace}-api"}
    )


class RecordingClient(TestClient):
    """Keeps every response body, so a test can assert what never appeared in any of them."""

    bodies: list[str]

    def request(self, *args: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        response = super().request(*args, **kwargs)
        self.bodies.append(response.text + "\n" + str(dict(response.headers)))
        return response


@pytest.fixture
def client(db: Engine, api_settings: Settings, connectors: None) -> Iterator[RecordingClient]:
    with RecordingClient(create_app(api_settings)) as c:
        c.bodies = []
        yield c


@pytest.fixture
def real_client(db: Engine, api_settings: Settings) -> Iterator[RecordingClient]:
    """The app with the connectors this build really has (no stand-ins)."""
    with RecordingClient(create_app(api_settings)) as c:
        c.bodies = []
        yield c


@pytest.fixture
def token(api_settings: Settings) -> Callable[..., str]:
    assert api_settings.auth_jwt_secret is not None
    secret = api_settings.auth_jwt_secret

    def mint(
        role: str = "DISTRICT_ADMIN", tenant: str | None = TENANT_A, *, sub: str = "admin@a", ttl: int = 600
    ) -> str:
        return mint_token(secret, subject=sub, roles=[role], tenant_id=tenant, ttl_seconds=ttl)

    return mint


class FakeClock:
    """Wall-clock seconds that move only when a test moves them."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_a(token: Callable[..., str]) -> dict[str, str]:
    return auth(token("DISTRICT_ADMIN", TENANT_A, sub="admin@a"))


@pytest.fixture
def admin_b(token: Callable[..., str]) -> dict[str, str]:
    return auth(token("DISTRICT_ADMIN", TENANT_B, sub="admin@b"))


@pytest.fixture
def platform(token: Callable[..., str]) -> dict[str, str]:
    return auth(token("PLATFORM_ADMIN", None, sub="ops@platform"))


def provider_body(
    provider_type: ProviderType = ProviderType.CLEVER, tenant: str = TENANT_A, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "tenantId": tenant,
        "providerType": provider_type.value,
        "name": f"{provider_type.value.title()} integration",
        "config": copy.deepcopy(CONFIGS[provider_type]),
        "syncSchedule": "daily",
        "scheduleTimezone": "America/New_York",
    }
    body.update(overrides)
    return body


@pytest.fixture
def create_provider(client: TestClient, admin_a: dict[str, str]) -> Callable[..., dict[str, Any]]:
    def create(
        provider_type: ProviderType = ProviderType.CLEVER,
        tenant: str = TENANT_A,
        headers: dict[str, str] | None = None,
        **overrides: Any,
    ) -> dict[str, Any]:
        response = client.post(
            "/api/v1/providers", json=provider_body(provider_type, tenant, **overrides), headers=headers or admin_a
        )
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    return create


@pytest.fixture
def all_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog
