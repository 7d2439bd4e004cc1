"""`sis-sync api`: the HTTP service (REST API, UI, health) on uvicorn."""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn

from libs.logs import logging_config
from libs.settings import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("api", help="serve the REST API and the District Admin UI")
    parser.add_argument("--host", help="override HOST")
    parser.add_argument("--port", type=int, help="override PORT")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    uvicorn.run(
        "services.api.app:create_app",
        factory=True,
        host=args.host or settings.host,
        port=args.port or settings.port,
        workers=args.workers,
        # applied again in every uvicorn worker process, so each one withholds exception texts
        log_config=logging_config(settings),
        log_level=settings.log_level.value,
        access_log=False,
    )
    return 0
