"""Tracing is off without OTEL_EXPORTER_OTLP_ENDPOINT, or without the otel extra: no span SDK
or exporter is imported, no request or message is traced, and messages carry no trace context."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = """
import sys
{block}
from dramatiq.brokers.stub import StubBroker
from libs import tracing
from libs.etl.phase import Next, Queue
from libs.settings import load_settings
from services.api.app import create_app
from services.queue.send import send
import services.workers.tracing

app = create_app(load_settings(app_env="test"))
assert not tracing.enabled()
assert tracing.carrier() == {{}}
with tracing.span("nothing") as opened:
    assert opened is None
broker = StubBroker()
broker.declare_queue(Queue.CONTROL.value)
send([Next("sis.start_sync", Queue.CONTROL, ("r",))], broker)
[message] = broker.queues[Queue.CONTROL.value].queue
assert "sis_trace" not in message.decode(), message
# redis-py loads parts of opentelemetry's API and SDK by itself when they are installed; what
# tracing needs (the span SDK, the exporter, the W3C propagator) stays out
ours = ("opentelemetry.sdk.trace", "opentelemetry.exporter", "opentelemetry.trace.propagation.tracecontext")
loaded = sorted(m for m, module in sys.modules.items() if module is not None and m.startswith(ours))
assert not loaded, loaded
print("off")
"""


def _run(env: dict[str, str], block: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SCRIPT.format(block=block)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "PYTEST"))}
    return env | extra


def test_without_an_endpoint_nothing_of_opentelemetry_is_imported() -> None:
    result = _run(_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "off"


def test_an_endpoint_without_the_extra_leaves_tracing_off_and_says_so() -> None:
    # the extra is not installed: no opentelemetry package can be imported (nor is any loaded)
    result = _run(_env(OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9"), block="sys.modules['opentelemetry'] = None")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "off"
    assert "the otel extra is not installed" in result.stderr
