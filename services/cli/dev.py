"""`sis-sync demo`, `generate` and `simulate`: the dev kit's commands (devkit/).

The production wheel leaves the dev kit out. These commands take their arguments as they are and
hand them to the dev kit's own parser when they run, so no other command imports it, and without
it they say what to install instead of failing.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Any

# command -> the dev kit module with its `register(parser)`, and its line in `sis-sync --help`
COMMANDS = {
    "demo": ("devkit.demo.cli", "run everything locally (embedded Postgres and Redis if unset)"),
    "generate": (
        "devkit.generator.cli",
        "write a synthetic district (OneRoster 1.1 CSV), optionally churned or rolled over",
    ),
    "simulate": ("devkit.simulators.cli", "serve a generated district like a real SIS (tests, demo, bench)"),
}

NEEDS_DEVKIT = (
    "needs the dev kit, which is not in the production wheel; "
    "run it from a source checkout after pip install -e '.[dev,embedded]'"
)

# no option prefix: every argument, --help included, is passed on to the dev kit's parser
_NO_PREFIX = "\0"


class DevKitMissing(Exception):
    """The dev kit is not installed (a production install)."""


def register(subparsers: Any) -> None:
    for name, (_, help_text) in COMMANDS.items():
        parser = subparsers.add_parser(name, help=help_text, add_help=False, prefix_chars=_NO_PREFIX)
        parser.add_argument("argv", nargs=argparse.REMAINDER)
        parser.set_defaults(handler=run, dev_command=name)


def _module(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name is not None and exc.name.partition(".")[0] == "devkit":
            raise DevKitMissing(name) from exc
        raise


def command_parser(command: str) -> argparse.ArgumentParser:
    """The dev kit's own parser for a command; DevKitMissing without the dev kit."""
    module, help_text = COMMANDS[command]
    parser = argparse.ArgumentParser(prog=f"sis-sync {command}", description=help_text)
    _module(module).register(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    try:
        parser = command_parser(args.dev_command)
    except DevKitMissing:
        print(f"sis-sync {args.dev_command}: {NEEDS_DEVKIT}", file=sys.stderr)
        return 2
    parsed = parser.parse_args(args.argv)
    return int(parsed.handler(parsed) or 0)
