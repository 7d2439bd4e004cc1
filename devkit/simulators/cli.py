"""`sis-sync simulate <provider>`: serve a generated district the way a real SIS would.

Each simulator lives in `devkit/simulators/<name>/` and exposes `register(parser)` in its `cli`
module; a simulator that is not in this checkout is simply not listed.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util

SIMULATORS = {
    "clever": "devkit.simulators.clever.cli",
    "oneroster": "devkit.simulators.oneroster.cli",
    "sftp": "devkit.simulators.sftp.cli",
}


def _available(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def register(parser: argparse.ArgumentParser) -> None:
    simulators = parser.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    for name, module in SIMULATORS.items():
        if _available(module):
            importlib.import_module(module).register(simulators.add_parser(name, help=f"the {name} simulator"))
