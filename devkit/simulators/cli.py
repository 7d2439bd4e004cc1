"""`sis-sync simulate <provider>`: serve a generated district the way a real SIS would.

Each simulator lives in `devkit/simulators/<name>/` and exposes `register(parser)` in its `cli`
module, imported when the command runs.
"""

from __future__ import annotations

import argparse
import importlib

SIMULATORS = {
    "clever": "devkit.simulators.clever.cli",
    "oneroster": "devkit.simulators.oneroster.cli",
    "sftp": "devkit.simulators.sftp.cli",
}


def register(parser: argparse.ArgumentParser) -> None:
    simulators = parser.add_subparsers(dest="simulator", required=True, metavar="SIMULATOR")
    for name, module in SIMULATORS.items():
        importlib.import_module(module).register(simulators.add_parser(name, help=f"the {name} simulator"))
