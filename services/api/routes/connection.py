"""Test connection: a saved provider (optionally with edited settings) or an unsaved config."""

from __future__ import annotations

import collections
import concurrent.futures
import logging
import math
import threading
import time
import uuid
from typing import Any

from libs.connectors import registry
from libs.connectors.base import ConnectionResult, ConnectorContext
from libs.connectors.egress import EgressPolicy
from libs.connectors.errors import ConnectorError
from libs.enums import ProviderType
from libs.etl.options import ProviderOptions
from libs.providers import configs
from services.api.endpoint import Call, operation
from services.api.problems import ApiError
from services.api.routes.providers import load_active
from services.api.schemas import ConnectionTestResult, ConnectionTestSaved, ConnectionTestUnsaved
from services.api.security import require_tenant

log = logging.getLogger(__name__)
TAG = "providers"

# Tests run on a pool of this API process. A tenant runs at most TESTS_PER_TENANT at once, so
# one tenant (pointing at a source that never answers) cannot fill the pool; a test past either
# limit is refused with 429 rather than queued. Every socket of a test ends at its deadline
# (ConnectorContext.deadline), so a slot is free again when the test has answered.
TESTS_PER_TENANT = 2
POOL_THREADS = 16
_POOL = concurrent.futures.ThreadPoolExecutor(max_workers=POOL_THREADS, thread_name_prefix="connection-test")
_running: collections.Counter[str] = collections.Counter()
_running_lock = threading.Lock()


def _admit(tenant_id: str, retry_after: float) -> None:
    with _running_lock:
        if _running[tenant_id] >= TESTS_PER_TENANT:
            detail = f"this tenant already runs {TESTS_PER_TENANT} connection tests; retry when one has answered"
        elif _running.total() >= POOL_THREADS:
            detail = "the service runs as many connection tests as it can; retry shortly"
        else:
            _running[tenant_id] += 1
            return
    retry = math.ceil(retry_after)
    raise ApiError(429, detail, headers={"Retry-After": str(retry)}, retryAfter=retry)


def _release(tenant_id: str) -> None:
    with _running_lock:
        _running[tenant_id] -= 1
        if _running[tenant_id] <= 0:
            del _running[tenant_id]


def _run(
    call: Call, provider_type: ProviderType, config: dict[str, Any], *, provider_id: str, tenant_id: str, options: Any
) -> ConnectionTestResult:
    settings = call.services.settings
    timeout = settings.connection_test_timeout_seconds
    context = ConnectorContext(
        provider_id=provider_id,
        tenant_id=tenant_id,
        options=options,
        redis=call.services.redis,
        redis_namespace=settings.redis_namespace,
        allow_local_paths=settings.allow_local_csv_paths,
        egress=EgressPolicy.from_settings(settings),
        sftp_key_dir=settings.sftp_key_dir,
        deadline=time.monotonic() + timeout,
        retry_budget_seconds=settings.source_retry_budget_seconds,
        csv_max_uncompressed_bytes=settings.csv_max_uncompressed_bytes,
    )

    def attempt() -> ConnectionResult:
        try:
            connector = registry.build_connector(provider_type, config, context)
            try:
                return connector.test_connection()
            finally:
                connector.close()
        finally:
            # the slot is free when the thread is, not when the caller stopped waiting
            _release(tenant_id)

    _admit(tenant_id, timeout)
    future = _POOL.submit(attempt)
    try:
        result = future.result(timeout=timeout)
    except concurrent.futures.TimeoutError:
        return ConnectionTestResult(success=False, message=f"No answer from the provider within {timeout:g} s")
    except ConnectorError as exc:
        return ConnectionTestResult(success=False, message=exc.message)
    except Exception as exc:
        # the exception text may quote a config value; only its type is logged
        log.error("connection test of provider %s failed unexpectedly: %s", provider_id, type(exc).__name__)
        return ConnectionTestResult(success=False, message=f"Unexpected error ({type(exc).__name__})")
    return ConnectionTestResult(success=result.success, message=result.message, details=dict(result.details))


@operation(
    "POST",
    "/api/v1/providers/{providerId}/test",
    summary="Test the connection of a saved provider",
    tag=TAG,
    response=ConnectionTestResult,
    body=ConnectionTestSaved,
    body_required=False,
    errors=(400, 401, 403, 404, 413, 415, 422, 429),
    rate_limited=True,
)
def test_provider_connection(call: Call) -> ConnectionTestResult:
    """With a `config` body, tests edited settings before they are saved; secrets left out
    (or masked) are taken from the stored config, unless the edit changes where they are sent (422)."""
    body: ConnectionTestSaved | None = call.body
    with call.services.engine.connect() as conn:
        row = load_active(call, conn, call.path["providerId"])
    config = configs.config_of(call.services.cipher, row, body.config if body is not None else None)
    call.services.limiter.hit(f"test:{call.token}:{row.id}", call.services.settings.api_sync_triggers_per_minute)
    return _run(
        call,
        ProviderType(row.provider_type),
        config,
        provider_id=str(row.id),
        tenant_id=row.tenant_id,
        options=ProviderOptions.from_stored(row.options).to_stored(),
    )


@operation(
    "POST",
    "/api/v1/providers/test",
    summary="Test an unsaved provider config (before creating the provider)",
    tag=TAG,
    response=ConnectionTestResult,
    body=ConnectionTestUnsaved,
    errors=(400, 401, 403, 413, 415, 422, 429),
    rate_limited=True,
)
def test_unsaved_connection(call: Call) -> ConnectionTestResult:
    body: ConnectionTestUnsaved = call.body
    require_tenant(call.principal, body.tenant_id)
    config = configs.validate(body.provider_type, body.config)
    call.services.limiter.hit(f"test:{call.token}:unsaved", call.services.settings.api_sync_triggers_per_minute)
    return _run(
        call, body.provider_type, config, provider_id=f"unsaved-{uuid.uuid4()}", tenant_id=body.tenant_id, options={}
    )
