"""`sis-sync demo`: the whole service on this machine, UI on localhost, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
from typing import Any

from libs.db.settings import AppEnv, load_settings
from libs.logs import configure_logging
from services.demo.stack import DemoStack


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("demo", help="run everything locally (embedded Postgres and Redis if unset)")
    parser.add_argument("--port", type=int, help="HTTP port (default: PORT)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings(app_env=AppEnv.DEVELOPMENT) if _env_unset() else load_settings()
    configure_logging(settings)
    stack = DemoStack(settings)
    # Ctrl-C and SIGTERM both stop children, then the embedded servers (a parent shell may
    # have started us with SIGINT ignored, so install the handler rather than inherit it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    port = args.port or settings.port
    try:
        stack.start_servers()
        stack.start_processes(port=port)
        print(f"\nsis-sync demo is up: http://localhost:{port}/healthz  http://localhost:{port}/readyz")
        print("Press Ctrl-C to stop.\n")
        stack.wait()
    except KeyboardInterrupt:
        print("\nstopping the demo")
    finally:
        stack.stop()
    return 0


def _env_unset() -> bool:
    import os

    return "APP_ENV" not in os.environ
