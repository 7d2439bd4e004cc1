"""`sis-sync migrate`: bring the database schema to the latest revision (or another)."""

from __future__ import annotations

import argparse
from typing import Any

from libs.db import migrate
from libs.settings import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("migrate", help="apply database migrations (alembic)")
    parser.add_argument("revision", nargs="?", default="head", help="target revision (default: head)")
    parser.add_argument("--downgrade", action="store_true", help="downgrade to REVISION instead")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    url = settings.sqlalchemy_url
    if args.downgrade:
        migrate.downgrade(url, args.revision)
    else:
        migrate.upgrade(url, args.revision)
    return 0
