"""The Clever simulator: Data API v3.0, events and OAuth endpoints over a generated district.

One Starlette app answers both Clever hosts (api.clever.com and clever.com/oauth), so a
connector points `apiUrl` and `oauthUrl` at the same address. `/__sim/...` is the operator's
side: counts, rate-limit windows, faults, churn (which records events), token revocation.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devkit.generator.district import District
from devkit.simulators.clever import routes
from devkit.simulators.clever.events import EventLog
from devkit.simulators.clever.limits import Faults, FaultState, RateLimiter
from devkit.simulators.clever.paging import PagingError
from devkit.simulators.clever.store import Store

JSON_TYPE = "application/json; charset=utf-8"
SCOPES = ["read:district_admins", "read:school_admins", "read:students", "read:teachers", "read:user_id"]


class Simulator:
    """The simulated Clever service: one district, one app (client id/secret), one token."""

    def __init__(
        self,
        district: District,
        *,
        client_id: str = "sim-client-id",
        client_secret: str = "sim-client-secret",  # noqa: S107 - a simulator's published demo credential
        token: str = "sim-district-token",  # noqa: S107
        limit: int = 1200,
        window_seconds: int = 60,
        faults: Faults | None = None,
    ) -> None:
        self.store = Store(district, built_at=datetime.now(UTC))
        self.events = EventLog()
        self.limiter = RateLimiter(limit, window_seconds)
        self.faults = FaultState(faults or Faults())
        self.client_id, self.client_secret = client_id, client_secret
        self._token_base = token
        self.token = token
        self.revocations = 0
        self.requests = 0
        # lists this app's token may not read (an app without that permission): 403
        self.denied: set[str] = set()

    @property
    def district_id(self) -> str:
        return str(self.store.district_id)

    def provider_config(self, url: str) -> dict[str, Any]:
        """A CLEVER provider config for this simulator served at `url`."""
        return {
            "clientId": self.client_id,
            "clientSecret": self.client_secret,
            "districtId": self.district_id,
            "apiUrl": url,
            "oauthUrl": url,
        }

    def churn(self, percent: float, seed: int) -> dict[str, Any]:
        """Move the district one churn step on and record the events between the two states."""
        return self.advance(self.store.generated.with_churn(percent, seed))

    def advance(self, district: District) -> dict[str, Any]:
        """Serve `district` (a later state of the current one) and record the events between them."""
        old = self.store
        new = Store(district, built_at=datetime.now(UTC))
        changes = list(district.changes_since(old.generated))
        count = self.events.record_changes(old, new, changes, time.time())
        self.store = new
        return {"events": count, "changes": len(changes), "counts": new.roster_counts()}

    def revoke_token(self) -> str:
        """The current token stops working; /oauth/tokens hands out its successor."""
        self.revocations += 1
        self.token = f"{self._token_base}-{self.revocations}"
        return self.token

    def stats(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rateLimit": self.limiter.report(),
            "faults": {"settings": self.faults.faults.as_dict(), "served": dict(self.faults.served)},
            "events": len(self.events.ids),
        }


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _message(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps({"message": message}), status_code=status, media_type=JSON_TYPE, headers=headers)


def create_app(sim: Simulator) -> Starlette:
    async def data(request: Request) -> Response:
        token = _bearer(request)
        if token != sim.token:
            return _message(401, "Unauthorized: invalid or revoked bearer token")
        sim.requests += 1
        if request.url.path.removeprefix("/v3.0").rstrip("/") in sim.denied:
            return _message(403, "Forbidden: this application may not read this resource")
        allowed, headers = sim.limiter.hit(token)
        if not allowed:
            return Response(b"", status_code=429, headers=headers)
        fault = sim.faults.next_request()
        if fault == "throttle":
            return Response(b"", status_code=429, headers=sim.limiter.headers(0, sim.limiter.reset_at()))
        if fault == "error":
            status = sim.faults.faults.error_status
            return Response(b"upstream connect error", status_code=status, media_type="text/plain", headers=headers)
        delay = sim.faults.slow()
        if delay:
            await asyncio.sleep(delay)
        try:
            status, body = routes.answer(sim.store, sim.events, request, sim.faults.drop_next)
        except PagingError as exc:
            return _message(exc.status, exc.message, headers)
        return Response(body, status_code=status, media_type=JSON_TYPE, headers=headers)

    async def tokens(request: Request) -> Response:
        expected = base64.b64encode(f"{sim.client_id}:{sim.client_secret}".encode()).decode()
        if request.headers.get("authorization", "") != f"Basic {expected}":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        if request.query_params.get("owner_type") != "district":
            return JSONResponse({"error": "owner_type must be district"}, status_code=400)
        wanted = request.query_params.get("district")
        entries = []
        if wanted in (None, sim.district_id):
            entries.append(
                {
                    "id": f"{sim.store.epoch}09{sim.revocations:014x}",
                    "created": "2020-09-13T12:26:40.000Z",
                    "owner": {"type": "district", "id": sim.district_id},
                    "access_token": sim.token,
                    "scopes": SCOPES,
                }
            )
        return JSONResponse({"data": entries, "links": [{"rel": "self", "uri": "/oauth/tokens?owner_type=district"}]})

    async def tokeninfo(request: Request) -> Response:
        if _bearer(request) != sim.token:
            return JSONResponse({"error": "invalid_token"}, status_code=401)
        return JSONResponse({"client_id": sim.client_id, "scopes": SCOPES})

    async def stats(request: Request) -> Response:
        return JSONResponse(sim.stats())

    async def counts(request: Request) -> Response:
        return JSONResponse(sim.store.roster_counts())

    async def faults(request: Request) -> Response:
        try:
            sim.faults.faults.update(await request.json())
        except (ValueError, TypeError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(sim.faults.faults.as_dict())

    async def churn(request: Request) -> Response:
        body = await request.json()
        result = await run_in_threadpool(sim.churn, float(body.get("percent", 1.0)), int(body.get("seed", 1)))
        return JSONResponse(result)

    async def revoke(request: Request) -> Response:
        sim.revoke_token()
        return JSONResponse({"revoked": True})

    return Starlette(
        routes=[
            Route("/oauth/tokens", tokens),
            Route("/oauth/tokeninfo", tokeninfo),
            Route("/__sim/stats", stats),
            Route("/__sim/counts", counts),
            Route("/__sim/faults", faults, methods=["POST"]),
            Route("/__sim/churn", churn, methods=["POST"]),
            Route("/__sim/revoke-token", revoke, methods=["POST"]),
            Route("/v3.0/{rest:path}", data),
        ]
    )
