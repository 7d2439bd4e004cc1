"""`sis-sync ready`: exit 0 when Postgres and Redis answer, 1 otherwise (the JSON of /readyz on stdout).

The readiness probe of the processes without an HTTP port: the scheduler and the worker pools
(deploy/k8s, deploy/docker-compose.yml).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from libs.settings import load_settings
from services.api.health import check_database, check_redis


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("ready", help="check that Postgres and Redis answer (a readiness probe)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    database, redis_error = check_database(settings), check_redis(settings)
    ok = database is None and redis_error is None
    checks = {"database": database or "ok", "redis": redis_error or "ok"}
    print(json.dumps({"status": "ok" if ok else "unavailable", "checks": checks}))
    return 0 if ok else 1
