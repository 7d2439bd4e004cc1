"""The Starlette application factory."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.routing import Route

from libs.db.settings import Settings, get_settings
from services.api.health import healthz, readyz


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    routes = [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
    ]
    app = Starlette(routes=routes)
    app.state.settings = settings
    return app
