"""The headers every response carries, and the one place an unexpected error becomes a 500.

A plain ASGI middleware (BaseHTTPMiddleware would buffer streamed downloads) just inside
Starlette's ServerErrorMiddleware, so 404s, 405s, redirects, static files and errors pass it too.
It catches what the routes did not: the 500 then carries the same headers, and the error is
logged once, with its type and traceback (libs/logs.py withholds exception texts).
"""

from __future__ import annotations

import logging

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.api.problems import ApiError
from services.api.ui.session import PREFIX

log = logging.getLogger(__name__)

# the UI's scripts and styles: the same for every tenant, so browsers may cache them
STATIC = PREFIX + "/static/"
# a year, the minimum browsers' preload lists accept
HSTS = "max-age=31536000; includeSubDomains"


class ResponseHeaders:
    def __init__(self, app: ASGIApp, *, production: bool) -> None:
        self.app = app
        self.production = production

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        cacheable = str(scope["path"]).startswith(STATIC)

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = MutableHeaders(scope=message)
                # a JSON answer quoting a tenant's text must never be sniffed into HTML
                headers["X-Content-Type-Options"] = "nosniff"
                if not cacheable:
                    # tenant data stays out of browser and proxy caches
                    headers["Cache-Control"] = "no-store"
                if self.production:
                    headers["Strict-Transport-Security"] = HSTS
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except Exception as exc:
            if started:
                raise
            log.error("unhandled %s on %s %s", type(exc).__name__, scope["method"], scope["path"], exc_info=exc)
            response = ApiError(500, "internal error; the service log has the details").response()
            await response(scope, receive, send_with_headers)
