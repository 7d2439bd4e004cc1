"""`make bench`: each benchmark syncs a generated district of one tier and prints its figures.

python -m bench.run --size M [--only oneroster_api]
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# module name -> what it measures; each module has run(size: str, args) -> int
BENCHES = {
    "oneroster_api": "a OneRoster 1.1 REST sync from the simulator through the pipeline",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.run", description=__doc__)
    parser.add_argument("--size", default="M", help="district tier: S, M, L or XL (default M)")
    parser.add_argument("--only", choices=sorted(BENCHES), action="append", help="run only these benchmarks")
    parser.add_argument("--extract-workers", type=int, default=2, help="extract steps run in parallel (default 2)")
    args = parser.parse_args(argv)
    status = 0
    for name in args.only or BENCHES:
        print(f"== {name}: {BENCHES[name]} ({args.size} tier)", flush=True)
        status |= importlib.import_module(f"bench.{name}").run(args.size.upper(), args)
    return status


if __name__ == "__main__":
    sys.exit(main())
