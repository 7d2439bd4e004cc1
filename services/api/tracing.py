"""A span per API request, when tracing is on (`libs.tracing`): named by method and route
template (`POST /api/v1/providers/{providerId}/sync`), so ids stay out of span names, and the
parent of what the request sends to the workers. A caller's own `traceparent` header is honoured."""

from __future__ import annotations

import re

from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from libs import tracing

# Starlette's `{providerId:uuid}` is `{providerId}` in a route template
_CONVERTER = re.compile(r"\{(\w+):\w+\}")


class TraceRequests:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing.enabled():
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers", [])}
        parent = {k: v for k, v in headers.items() if k in ("traceparent", "tracestate")}
        method = scope["method"]
        with tracing.span(method, parent=parent, attributes={"http.request.method": method}) as opened:
            assert opened is not None

            async def send_status(message: Message) -> None:
                if message["type"] == "http.response.start":
                    opened.set("http.response.status_code", int(message["status"]))
                await send(message)

            try:
                await self.app(scope, receive, send_status)
            finally:
                route = scope.get("route")
                if isinstance(route, Route):
                    template = _CONVERTER.sub(r"{\1}", route.path)
                    opened.rename(f"{method} {template}")
                    opened.set("http.route", template)
