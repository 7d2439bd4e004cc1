"""/healthz (the process is up) and /readyz (its database and Redis answer)."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from libs.db.engine import get_engine
from libs.redis_client import probe
from libs.settings import Settings


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


def check_database(settings: Settings) -> str | None:
    try:
        with get_engine(settings).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        return type(exc).__name__
    return None


def check_redis(settings: Settings) -> str | None:
    if settings.redis_url is None:
        return "REDIS_URL is not set"
    try:
        with probe(settings) as client:
            client.ping()
    except Exception as exc:
        return type(exc).__name__
    return None


async def readyz(request: Request) -> JSONResponse:
    settings: Settings = request.app.state.settings
    database, redis_error = await asyncio.gather(
        asyncio.to_thread(check_database, settings), asyncio.to_thread(check_redis, settings)
    )
    checks = {"database": database or "ok", "redis": redis_error or "ok"}
    ok = database is None and redis_error is None
    return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)
