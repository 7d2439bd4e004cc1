"""The OpenAPI document matches the routes, and the running app honours it (schemathesis)."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation import GenerationMode
from sqlalchemy import Engine, text
from starlette.routing import Route
from starlette.testclient import TestClient

from libs.enums import ProviderType
from libs.settings import Settings
from services.api.app import create_app
from services.api.openapi import document
from tests.api.conftest import TENANT_A

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 25
_CONFIG = {"clientId": "c", "districtId": "d", "clientSecret": "s"}
VALID_BODIES = {
    "/api/v1/providers": {"tenantId": TENANT_A, "providerType": "CLEVER", "name": "Fuzz", "config": _CONFIG},
    "/api/v1/providers/test": {"tenantId": TENANT_A, "providerType": "CLEVER", "config": _CONFIG},
}


def test_every_route_is_in_the_document_and_every_documented_operation_is_routed(settings: Settings) -> None:
    app = create_app(settings)
    routed = {
        (route.path.replace(":uuid", ""), method.lower())
        for route in app.routes
        # pages (the UI) opt out with include_in_schema=False; everything else is documented
        if isinstance(route, Route) and route.include_in_schema
        for method in (route.methods or ())
        if method != "HEAD"
    }
    documented = {(path, method) for path, item in document()["paths"].items() for method in item}
    assert routed == documented
    assert document()["openapi"] == "3.1.0"
    for path, item in document()["paths"].items():
        for method, entry in item.items():
            assert entry["responses"], (path, method)
            if path.startswith("/api/"):
                assert {"401", "403"} <= entry["responses"].keys(), (path, method)


def test_openapi_json_is_served_without_a_token(client: TestClient) -> None:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.json()["paths"].keys() == document()["paths"].keys()


@pytest.fixture
def seeded(client: TestClient, platform: dict[str, str], db: Engine) -> dict[str, str]:
    """A provider with a finished run and one error, so generated cases also reach 2xx paths."""
    body = {
        "tenantId": TENANT_A,
        "providerType": ProviderType.CLEVER.value,
        "name": "Seed",
        "config": _CONFIG,
        "syncSchedule": "hourly",
    }
    provider = client.post("/api/v1/providers", json=body, headers=platform).json()
    run_id = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, started_at, "
                "completed_at) VALUES (:id, :p, :t, 'SUCCESS', 'manual', true, now(), now())"
            ),
            {"id": run_id, "p": provider["id"], "t": TENANT_A},
        )
        conn.execute(text("INSERT INTO sis_sync_errors (run_id, code, message) VALUES (:r, 'x', 'y')"), {"r": run_id})
    return {"providerId": provider["id"], "runId": str(run_id), "tenantId": TENANT_A}


def test_schemathesis_finds_no_server_error_and_no_schema_violation(
    db: Engine,
    api_settings: Settings,
    connectors: None,
    platform: dict[str, str],
    seeded: dict[str, str],
    token: Callable[..., str],
) -> None:
    app = create_app(api_settings)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    per_op: Counter[tuple[str, int]] = Counter()
    # deletes last, so the seeded provider serves every other operation first
    operations = sorted(
        (result.ok() for result in schema.get_all_operations()), key=lambda op: op.method.upper() == "DELETE"
    )
    # schemathesis leaves out the document's own path
    assert len(operations) == sum(len(item) for item in document()["paths"].values()) - 1
    for operation in operations:
        _reset(db, seeded["providerId"])
        params = {k: v for k, v in seeded.items() if "{" + k + "}" in operation.path}
        variants: list[dict[str, Any]] = [{}]
        if params:
            variants.append({"path_parameters": params})
        if operation.path in VALID_BODIES:
            variants.append({"body": VALID_BODIES[operation.path]})
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            for variant in variants:
                strategy = operation.as_strategy(generation_mode=mode, **variant)

                check = _checker(strategy, f"{operation.label} {mode.value} {sorted(variant)}", platform, per_op)
                try:
                    check()
                except Unsatisfiable:
                    continue  # no invalid input exists for an operation without parameters
                except Exception as exc:
                    failures.append(f"{operation.label} [{mode.value} {variant}]: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)
    # the run reached real work, not only refusals
    statuses = Counter[int]()
    for (_, status), count in per_op.items():
        statuses[status] += count
    report = "\n".join(f"{label} -> {status}: {count}" for (label, status), count in sorted(per_op.items()))
    print(f"schemathesis: {sum(statuses.values())} requests, statuses {dict(sorted(statuses.items()))}")
    assert sum(statuses.values()) > 300, report
    assert {200, 201, 202, 404, 422} <= statuses.keys(), report


def _checker(strategy: Any, label: str, headers: dict[str, str], seen: Counter[tuple[str, int]]) -> Callable[[], None]:
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def check(case: Any) -> None:
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        seen[(label, response.status_code)] += 1

    return check  # type: ignore[no-any-return]


def _reset(db: Engine, provider_id: str) -> None:
    """Undo what earlier operations did to the seeded provider (a PATCH may have disabled it)."""
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_providers SET enabled = true, deleted_at = NULL WHERE id = :p"), {"p": provider_id}
        )
        conn.execute(
            text(
                "UPDATE sis_sync_runs SET status = 'CANCELLED', completed_at = now(), lease_token = NULL "
                "WHERE provider_id = :p AND status IN ('PENDING', 'IN_PROGRESS')"
            ),
            {"p": provider_id},
        )
