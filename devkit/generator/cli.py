"""`sis-sync generate`: write a synthetic district as a OneRoster 1.1 CSV package."""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from devkit.generator import TIERS, District, DistrictSpec, SpecError, write_oneroster_csv
from devkit.generator.churn import churn_between


def _percent(text: str) -> float:
    try:
        value = float(text.strip().removesuffix("%"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a percentage: {text!r} (write 1% or 0.5)") from None
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"churn must be between 0% and 100%, got {text}")
    return value


def register(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "Deterministic: the same arguments always write the same bytes."
    parser.add_argument("--size", choices=sorted(TIERS), default="S", type=str.upper, help="benchmark tier (default S)")
    parser.add_argument("--seed", type=int, default=1, help="district seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--zip", action="store_true", help="write DIR/oneroster.zip instead of loose files")
    parser.add_argument("--students", type=int, help="override the tier's student count")
    parser.add_argument("--teachers", type=int, help="override the tier's teacher count")
    parser.add_argument("--schools", type=int, help="override the tier's school count")
    parser.add_argument("--rollover", action="store_true", help="move to the next school year first")
    parser.add_argument("--churn", type=_percent, metavar="P%", help="then change about P%% of users (e.g. 1%%)")
    parser.add_argument("--churn-seed", type=int, help="seed of the churn (default: --seed + 1)")
    parser.add_argument(
        "--empty", choices=["enrollments", "users", "classes", "terms", "schools"], help="write that file header-only"
    )
    parser.add_argument(
        "--delta", action="store_true", help="write only the changes since the base district (OneRoster delta)"
    )
    parser.add_argument("--report", type=Path, help="where to write churn.json (default: DIR/churn.json)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        spec = _spec(args)
        base = District(spec)
        state = base
        if args.rollover:
            state = state.with_rollover(seed=args.seed + 2)
        if args.churn is not None:
            state = state.with_churn(
                percent=args.churn, seed=args.churn_seed if args.churn_seed is not None else args.seed + 1
            )
        if args.empty:
            state = state.with_empty(args.empty)
    except SpecError as exc:
        print(f"sis-sync generate: {exc}", file=sys.stderr)
        return 2
    if args.delta and state is base:
        print("sis-sync generate: --delta needs --churn, --rollover or --empty", file=sys.stderr)
        return 2
    counts = state.counts()
    total = ", ".join(f"{counts[entity]:,} {entity.plural}" for entity in counts)
    print(f"generating a {args.size} district ({total}) into {args.out}", flush=True)

    def progress(name: str) -> None:
        print(f"  {time.perf_counter() - started:5.1f} s  writing {name}", flush=True)

    path = write_oneroster_csv(
        state, args.out, zip=args.zip, delta_from=base if args.delta else None, progress=progress
    )
    counts = state.counts()
    summary = ", ".join(f"{counts[entity]:,} {entity.plural}" for entity in counts)
    print(f"wrote {path}: {summary}")
    if state is not base:
        churn = state.churn if state.parent is base else churn_between(base, state)
        report = churn.write(args.report or args.out / "churn.json")
        print(f"wrote {report}")
    print(f"in {time.perf_counter() - started:.1f} s")
    return 0


def _spec(args: argparse.Namespace) -> DistrictSpec:
    """The tier's spec with the sizes given on the command line."""
    given = {name: value for name in ("students", "teachers", "schools") if (value := getattr(args, name)) is not None}
    return replace(DistrictSpec.for_tier(args.size, seed=args.seed), **given)
