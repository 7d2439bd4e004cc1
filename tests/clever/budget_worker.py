"""One worker process extracting one Clever step (spawned by test_budget.py)."""

from __future__ import annotations

from typing import Any


def extract_step(settings: dict[str, Any], step_name: str, redis_url: str | None, namespace: str, out: Any) -> None:
    import redis

    from libs.connectors.base import ConnectorContext
    from libs.connectors.clever.config import CleverConfig
    from libs.connectors.clever.connector import CleverConnector
    from tests.support.egress import LOCAL

    client = redis.Redis.from_url(redis_url) if redis_url else None
    context = ConnectorContext(provider_id=f"worker-{step_name}", redis=client, redis_namespace=namespace, egress=LOCAL)
    conn = CleverConnector(CleverConfig.model_validate(settings), context)
    try:
        step = next(s for s in conn.plan() if s.name == step_name)
        extraction = conn.extract(step)
        records = sum(1 for _ in extraction)
        out.put({"step": step_name, "records": records, "requests": extraction.source["requests"]})
    finally:
        conn.close()
        if client is not None:
            client.close()
