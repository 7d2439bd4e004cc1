"""`sis-sync worker`: a Dramatiq worker pool for one or more of the run queues."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from libs.etl.phase import Queue
from libs.settings import load_settings

QUEUES = [queue.value for queue in Queue]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("worker", help="run a worker pool (dramatiq) for the sync queues")
    parser.add_argument(
        "--queues", "-Q", nargs="+", choices=QUEUES, default=list(QUEUES), help="queues to consume (default: all)"
    )
    parser.add_argument("--processes", "-p", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--threads", "-t", type=int, default=4)
    parser.add_argument(
        "--shutdown-timeout", type=int, default=600_000, help="ms to let running phases finish on SIGTERM"
    )
    parser.set_defaults(handler=run)


def command(args: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "dramatiq",
        "services.workers.main",
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
    argv = command(args)
    # An idle consumer backs off up to this many ms between polls; dramatiq's 1 s default would
    # add up to a second to every hop of a run's phase chain.
    os.environ.setdefault("dramatiq_worker_timeout", str(settings.worker_poll_ms))
    # replace this process: signals (SIGTERM from an orchestrator) reach the dramatiq master directly
    os.execv(argv[0], argv)  # noqa: S606
