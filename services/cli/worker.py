"""`sis-sync worker`: a Dramatiq worker pool for one or more of the run queues."""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import dramatiq.cli

from libs.etl.phase import Queue
from libs.logs import configure_logging
from libs.metrics.counters import enable_multiprocess
from libs.settings import load_settings

QUEUES = [queue.value for queue in Queue]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run a worker pool (dramatiq) for the sync queues")
    parser.add_argument(
        "--queues", "-Q", nargs="+", choices=QUEUES, default=list(QUEUES), help="queues to consume (default: all)"
    )
    parser.add_argument(
        "--processes", "-p", type=int, default=os.cpu_count() or 1, help="worker processes (default: one per CPU)"
    )
    parser.add_argument("--threads", "-t", type=int, default=4, help="threads per process (default 4)")
    parser.add_argument(
        "--shutdown-timeout", type=int, default=600_000, help="ms to let running phases finish on SIGTERM"
    )
    parser.set_defaults(handler=run)


def command(args: argparse.Namespace) -> list[str]:
    """dramatiq's arguments: its master logs through the service's logging (LOG_FORMAT), not its own."""
    return [
        "services.workers.main",
        "--skip-logging",
        "--processes",
        str(args.processes),
        "--threads",
        str(args.threads),
        "--worker-shutdown-timeout",
        str(args.shutdown_timeout),
        "--queues",
        *args.queues,
    ]


def run(args: argparse.Namespace) -> int:
    settings = load_settings()  # fail here, with a clear message, rather than in every child process
    # An idle consumer backs off up to this many ms between polls; dramatiq's 1 s default would
    # add up to a second to every hop of a run's phase chain.
    os.environ.setdefault("dramatiq_worker_timeout", str(settings.worker_poll_ms))
    configure_logging(settings)
    # the pool's processes count into files here, and its metrics server sums them; a fresh
    # directory per pool, so a restart starts from zero and pools on one host stay apart
    directory = Path(tempfile.mkdtemp(prefix="sis-sync-metrics-"))
    enable_multiprocess(directory)
    try:
        # this process becomes the dramatiq master: signals (SIGTERM from an orchestrator) reach it directly
        parsed = dramatiq.cli.make_argument_parser().parse_args(command(args))  # type: ignore[no-untyped-call]
        return int(dramatiq.cli.main(parsed) or 0)  # type: ignore[no-untyped-call]
    finally:
        shutil.rmtree(directory, ignore_errors=True)
