"""`sis-sync`: one command line for every process and operator task.

Each subcommand lives in its own module with `register(subparsers)`; adding a command is one
module and one line in COMMANDS. The dev kit's commands (`demo`, `generate`, `simulate`) are
registered by `dev.py`, which imports devkit only when one of them runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from libs.settings import SettingsError

COMMANDS = [
    "services.cli.migrate",
    "services.cli.api",
    "services.cli.worker",
    "services.cli.scheduler",
    "services.cli.token",
    "services.cli.keys",
    "services.cli.ready",
    "services.cli.sync",
    "services.cli.dev",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sis-sync", description="Roster sync from Student Information Systems.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result = args.handler(args)
    except SettingsError as exc:
        print(f"sis-sync: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return int(result or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
