"""/metrics: Prometheus exposition (prometheus_client) of the sync service's state.

The API counts nothing itself: its registry holds the collectors that read Postgres and Redis at
scrape time (`libs.metrics.state`), so any API replica answers the same. No label names a
district unless METRICS_TENANT_LABELS is on, so the endpoint can be scraped without a token from
inside the cluster. What workers count (phases, outcomes, sources, webhooks) is served by the
worker pools themselves (WORKER_METRICS_PORT).
"""

from __future__ import annotations

import asyncio

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from starlette.requests import Request
from starlette.responses import Response

from libs.metrics.state import DatabaseState, QueueState
from libs.settings import Settings


def registry(settings: Settings) -> CollectorRegistry:
    out = CollectorRegistry(auto_describe=False)
    out.register(DatabaseState(settings))
    out.register(QueueState(settings))
    return out


async def metrics(request: Request) -> Response:
    reg: CollectorRegistry = request.app.state.metrics_registry
    body = await asyncio.to_thread(generate_latest, reg)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
