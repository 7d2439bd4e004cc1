"""Tracing end to end: with OTEL_EXPORTER_OTLP_ENDPOINT set, the API request that starts a sync
and every phase a real worker process runs for it share one trace, exported over OTLP HTTP to a
receiver on loopback."""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from sqlalchemy import Engine
from starlette.testclient import TestClient

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs import tracing
from libs.auth import mint_token
from libs.enums import ProviderType, SyncStatus
from libs.settings import Settings
from services.api.app import create_app
from tests.support.providers import create_provider
from tests.support.workers import Syncs, start_worker, wait_until

pytestmark = pytest.mark.e2e

PHASE_SPANS = {"sis.plan", "sis.extract", "sis.stage", "sis.load", "sis.deactivate", "sis.finalize"}


@dataclass(frozen=True)
class Span:
    service: str
    trace_id: str
    span_id: str
    parent_id: str
    name: str
    attributes: dict[str, str]


@dataclass
class Collector:
    url: str = ""
    spans: list[Span] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextmanager
def otlp_receiver() -> Iterator[Collector]:
    """An OTLP/HTTP trace receiver: decodes each export request with the protocol's own messages."""
    state = Collector()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            request = ExportTraceServiceRequest.FromString(body)
            received = []
            for resource in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in resource.resource.attributes}
                for scope in resource.scope_spans:
                    for s in scope.spans:
                        received.append(
                            Span(
                                service=attrs.get("service.name", ""),
                                trace_id=s.trace_id.hex(),
                                span_id=s.span_id.hex(),
                                parent_id=s.parent_span_id.hex(),
                                name=s.name,
                                attributes={a.key: a.value.string_value for a in s.attributes},
                            )
                        )
            with state.lock:
                state.spans.extend(received)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_the_request_that_starts_a_sync_and_its_phases_in_a_worker_share_one_trace(
    e2e_settings: Settings, db: Engine, log_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a key space of its own: only this worker takes the messages this API sends
    settings = e2e_settings.model_copy(update={"redis_namespace": f"{e2e_settings.redis_namespace}-trace"})
    package = write_oneroster_csv(District(DistrictSpec(students=30, teachers=3, schools=1, seed=8)), tmp_path / "p")
    provider_id = create_provider(
        db, settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(package)}
    )
    assert settings.auth_jwt_secret is not None
    token = mint_token(settings.auth_jwt_secret, subject="admin@1", roles=["DISTRICT_ADMIN"], tenant_id="district-1")

    with otlp_receiver() as collector:
        endpoint = {"OTEL_EXPORTER_OTLP_ENDPOINT": collector.url, "OTEL_BSP_SCHEDULE_DELAY": "100"}
        worker = start_worker(settings, log_dir, **endpoint)
        for name, value in endpoint.items():
            monkeypatch.setenv(name, value)
        try:
            with TestClient(create_app(settings)) as client:
                assert tracing.enabled()
                response = client.post(
                    f"/api/v1/providers/{provider_id}/sync", headers={"Authorization": f"Bearer {token}"}
                )
            assert response.status_code == 202, response.text
            syncs = Syncs(settings, db)
            try:
                run = syncs.wait(response.json()["runId"])
            finally:
                syncs.close()
            assert run["status"] == SyncStatus.SUCCESS, run["error_message"]
        finally:
            tracing.shutdown()  # this process's spans go out now, and tracing is off for the next test

        def phases_arrived() -> bool:
            with collector.lock:
                return {s.name for s in collector.spans} >= PHASE_SPANS

        try:
            wait_until(phases_arrived, timeout=30, what="the worker's phase spans")
        finally:
            worker.stop()

    with collector.lock:
        spans = list(collector.spans)
    [request] = [s for s in spans if s.name == "POST /api/v1/providers/{providerId}/sync"]
    assert request.service == "sis-sync-api"
    run_spans = [s for s in spans if s.attributes.get("sis.run_id") == str(run["id"])]
    assert {s.name for s in run_spans} >= PHASE_SPANS | {"sis.start_sync"}
    assert {s.service for s in run_spans} == {"sis-sync-worker"}
    # one trace: the request's, each message's span the child of the span that sent it
    assert {s.trace_id for s in run_spans} == {request.trace_id}
    by_id = {s.span_id: s for s in spans}
    [start] = [s for s in run_spans if s.name == "sis.start_sync"]
    assert start.parent_id == request.span_id
    plan = next(s for s in run_spans if s.name == "sis.plan")
    assert by_id[plan.parent_id].name == "sis.start_sync"
    finalize = next(s for s in run_spans if s.name == "sis.finalize")
    assert by_id[finalize.parent_id].name == "sis.deactivate"
