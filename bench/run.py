"""`make bench SIZE=M`: a generated district synced through the real pipeline from each source.

For every source the same district is synced twice by one real worker: the first sync loads
it into an empty store, the second finds nothing changed. Sources: OneRoster CSV (a local
folder) and Clever (the simulator, in its own process, over HTTP).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from bench.sources import SOURCES
from bench.stack import Stack
from libs.enums import LOAD_ORDER
from libs.generator import District, DistrictSpec


def _records(stats: dict[str, Any]) -> int:
    return sum(int((stats.get(e.plural) or {}).get("received", 0) or 0) for e in LOAD_ORDER)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench", description=__doc__)
    parser.add_argument("--size", default="M", choices=["S", "M", "L", "XL"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--sources", default=",".join(SOURCES), help=f"comma-separated ({', '.join(SOURCES)})")
    args = parser.parse_args(argv)
    chosen = [s.strip() for s in args.sources.split(",") if s.strip()]
    unknown = [s for s in chosen if s not in SOURCES]
    if unknown:
        parser.error(f"unknown source(s) {', '.join(unknown)}")
    district = District(DistrictSpec.for_tier(args.size, seed=args.seed))
    counts = {e.plural: n for e, n in district.counts().items()}
    print(f"tier {args.size} (seed {args.seed}): " + ", ".join(f"{n:,} {name}" for name, n in counts.items()))
    rows = []
    with tempfile.TemporaryDirectory(prefix="sis-bench-") as tmp:
        stack = Stack(Path(tmp)).start()
        try:
            for name in chosen:
                rows.append(_measure(name, SOURCES[name], stack, district, args.size, args.seed, Path(tmp)))
        finally:
            stack.stop()
    header = ("source", "first sync", "records/s", "extract", "re-sync", "requests", "retries")
    print("{:<8} {:>11} {:>10} {:>9} {:>9} {:>9} {:>8}".format(*header))
    for row in rows:
        print(
            f"{row['source']:<8} {row['first']:>10.1f}s {row['rate']:>10,.0f} {row['extract']:>8.1f}s "
            f"{row['resync']:>8.1f}s {row['requests']:>9} {row['retries']:>8}"
        )
    return 0 if all(row["ok"] for row in rows) else 1


def _measure(
    name: str,
    source: Callable[..., AbstractContextManager[dict[str, Any]]],
    stack: Stack,
    district: District,
    size: str,
    seed: int,
    tmp: Path,
) -> dict[str, Any]:
    with source(district=district, size=size, seed=seed, work_dir=tmp / name) as provider:
        provider_id = stack.create_provider(provider["type"], provider["config"])
        started = time.perf_counter()
        first = stack.sync(provider_id)
        first_seconds = time.perf_counter() - started
        started = time.perf_counter()
        second = stack.sync(provider_id)
        second_seconds = time.perf_counter() - started
    for label, run in (("first", first), ("re-sync", second)):
        if run["status"] != "SUCCESS":
            print(f"{name} {label} sync ended {run['status']}: {run['error']}", file=sys.stderr)
    requests = (first["stats"] or {}).get("requests") or {}
    return {
        "source": name,
        "ok": first["status"] == "SUCCESS" and second["status"] == "SUCCESS",
        "first": first_seconds,
        "rate": _records(first["stats"] or {}) / first_seconds if first_seconds else 0,
        "extract": float((first["timings"] or {}).get("extract", 0)),
        "resync": second_seconds,
        "requests": int(requests.get("requests", 0)) or "-",
        "retries": int(requests.get("retries", 0)) if requests else "-",
    }


if __name__ == "__main__":
    sys.exit(main())
