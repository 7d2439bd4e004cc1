"""The OpenAPI document matches the routes (schemathesis holds the server to it: tests/security)."""

from __future__ import annotations

from starlette.routing import Route
from starlette.testclient import TestClient

from libs.settings import Settings
from services.api.app import create_app
from services.api.openapi import document


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
