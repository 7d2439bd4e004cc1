"""The Starlette application factory."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Route

import services.api.routes  # noqa: F401 - declares the operations
from libs import tracing
from libs.settings import AppEnv, Settings, get_settings
from services.api import endpoint, openapi
from services.api.headers import ResponseHeaders
from services.api.health import healthz, readyz
from services.api.metrics import metrics, registry
from services.api.problems import ApiError
from services.api.services import Services
from services.api.tracing import TraceRequests
from services.api.ui import routes as ui_routes


async def openapi_json(request: Request) -> JSONResponse:
    return JSONResponse(openapi.document())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else "error"
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        # Starlette names the methods of the first route on the path; a path has one route per method
        methods = {
            method
            for route in request.app.routes
            if isinstance(route, Route) and route.matches(request.scope)[0] is Match.PARTIAL
            for method in route.methods or ()
        }
        headers["Allow"] = ", ".join(sorted(methods))
    return ApiError(exc.status_code, detail, headers=headers).response()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"], include_in_schema=False),
        Route("/openapi.json", openapi_json, methods=["GET"]),
        *endpoint.routes(),
        *ui_routes(),
    ]

    holder = ServicesHolder(settings)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        holder.close()

    app = Starlette(
        routes=routes,
        # unexpected errors become a 500 (and are logged) in ResponseHeaders
        exception_handlers={HTTPException: _http_error},
        middleware=[
            # outermost: the request's span covers everything the app does for it
            *([Middleware(TraceRequests)] if tracing.setup("sis-sync-api") else []),
            Middleware(ResponseHeaders, production=settings.app_env is AppEnv.PRODUCTION),
        ],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.services = holder
    app.state.metrics_registry = registry(settings)
    return app


class ServicesHolder:
    """Builds the shared resources on the first API call, so /healthz needs no database."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._services: Services | None = None
        self._lock = threading.Lock()

    def get(self) -> Services:
        with self._lock:
            if self._services is None:
                self._services = Services.from_settings(self._settings)
            return self._services

    def close(self) -> None:
        if self._services is not None and self._services.redis is not None:
            self._services.redis.close()
