"""OpenTelemetry tracing (the `otel` extra): a span per API request and per worker message, one
trace per run across processes.

Off unless OTEL_EXPORTER_OTLP_ENDPOINT is set and the extra is installed; off, every function
here does nothing and opentelemetry is never imported. On, spans go to that endpoint over OTLP
HTTP (the exporter reads the standard OTEL_* variables: headers, timeouts, OTEL_SERVICE_NAME).

A trace crosses processes in the messages: `carrier()` is the W3C trace context of the current
span, which `services/queue/send.py` puts in each message's options, and the worker's middleware
opens the message's span under it. The API request that starts a run, the run's start message
and every phase message after it (each sent from inside the previous phase's span) share one
trace. A run that waited for a slot continues the trace of the message that admitted it.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

ENDPOINT = "OTEL_EXPORTER_OTLP_ENDPOINT"


@dataclass
class _Tracing:
    provider: Any
    tracer: Any
    propagator: Any


_state: _Tracing | None = None


def setup(service: str) -> bool:
    """Start exporting spans of this process when OTEL_EXPORTER_OTLP_ENDPOINT is set; returns
    whether tracing is on. Call once a process, after it forked (the exporter runs a thread)."""
    global _state
    if _state is not None:
        return True
    if not os.environ.get(ENDPOINT):
        return False
    if not _installed():
        log.warning("%s is set but the otel extra is not installed (pip install 'sis-sync[otel]'): no traces", ENDPOINT)
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

    # OTEL_SERVICE_NAME, when set, names the service instead
    resource = Resource.create({SERVICE_NAME: os.environ.get("OTEL_SERVICE_NAME") or service})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    _state = _Tracing(provider, provider.get_tracer("sis-sync"), TraceContextTextMapPropagator())
    log.info("tracing: spans of %s go to %s", service, os.environ[ENDPOINT])
    return True


def _installed() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:  # not even the opentelemetry namespace
        return False


def shutdown() -> None:
    """Send the spans still buffered and stop tracing in this process."""
    global _state
    if _state is not None:
        state, _state = _state, None
        state.provider.shutdown()


def enabled() -> bool:
    return _state is not None


def carrier() -> dict[str, str]:
    """The current span's trace context (`traceparent`), for a message to carry; {} when off."""
    if _state is None:
        return {}
    out: dict[str, str] = {}
    _state.propagator.inject(out)
    return out


class Open:
    """A span begun by `begin` and current in this thread until `end`."""

    def __init__(self, span: Any, token: Any) -> None:
        self._span, self._token = span, token

    def rename(self, name: str) -> None:
        self._span.update_name(name)

    def set(self, key: str, value: str | int) -> None:
        self._span.set_attribute(key, value)

    def end(self, error: BaseException | None = None) -> None:
        from opentelemetry import context
        from opentelemetry.trace import Status, StatusCode

        if error is not None:
            self._span.record_exception(error)
            self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        context.detach(self._token)
        self._span.end()


def begin(
    name: str, *, parent: Mapping[str, str] | None = None, attributes: Mapping[str, str | int] | None = None
) -> Open | None:
    """Begin a span, the child of `parent` (a carried trace context) or of the current span, and
    make it current; None when tracing is off. For hooks that open and close in separate calls."""
    if _state is None:
        return None
    from opentelemetry import context, trace

    ctx = _state.propagator.extract(dict(parent)) if parent else None
    span = _state.tracer.start_span(name, context=ctx, attributes=dict(attributes or {}))
    return Open(span, context.attach(trace.set_span_in_context(span)))


@contextmanager
def span(
    name: str, *, parent: Mapping[str, str] | None = None, attributes: Mapping[str, str | int] | None = None
) -> Iterator[Open | None]:
    opened = begin(name, parent=parent, attributes=attributes)
    if opened is None:
        yield None
        return
    try:
        yield opened
    except BaseException as exc:
        opened.end(exc)
        raise
    opened.end()
