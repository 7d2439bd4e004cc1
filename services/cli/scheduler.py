"""`sis-sync scheduler`: fire due schedules, admit queued runs, reap lost ones."""

from __future__ import annotations

import argparse
from typing import Any

from libs.logs import configure_logging
from libs.settings import load_settings
from services.queue.broker import install_broker
from services.scheduler.loop import run_forever


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("scheduler", help="run the scheduler loop (safe with several replicas)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings)
    install_broker(settings)
    run_forever(settings)
    return 0
