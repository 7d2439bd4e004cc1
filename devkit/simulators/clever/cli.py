"""`sis-sync simulate clever --size M --port 8765`: a generated district served like Clever."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import fields


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--size", default="S", choices=["S", "M", "L", "XL"], help="district tier (default S)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (default 8765)")
    parser.add_argument("--client-id", default="sim-client-id", help="OAuth client id it accepts")
    parser.add_argument("--client-secret", default="sim-client-secret", help="OAuth client secret it accepts")
    parser.add_argument("--token", default="sim-district-token", help="the district-app bearer token")
    parser.add_argument("--rate-limit", type=int, default=1200, help="requests per window per token")
    parser.add_argument("--window", type=int, default=60, help="rate-limit window in seconds")
    faults = parser.add_argument_group("faults (also switchable at run time: POST /__sim/faults)")
    faults.add_argument("--error-every", type=int, default=0, help="every n-th request starts a burst of 5xx")
    faults.add_argument("--error-burst", type=int, default=1, help="5xx answers in a row per burst")
    faults.add_argument("--throttle-every", type=int, default=0, help="every n-th request starts a burst of 429s")
    faults.add_argument("--throttle-burst", type=int, default=1, help="429 answers in a row per burst")
    faults.add_argument("--slow-every", type=int, default=0, help="every n-th request waits --slow-seconds")
    faults.add_argument("--slow-seconds", type=float, default=0.0, help="how long a slow request waits")
    faults.add_argument("--missing-next-every", type=int, default=0, help="every n-th page loses its next link")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from devkit.generator.district import District
    from devkit.generator.spec import DistrictSpec
    from devkit.simulators.clever.app import Simulator, create_app
    from devkit.simulators.clever.limits import Faults
    from devkit.simulators.serving import serve_forever

    started = time.perf_counter()
    # every fault option is named after its Faults field
    faults = Faults(**{f.name: getattr(args, f.name) for f in fields(Faults) if hasattr(args, f.name)})
    sim = Simulator(
        District(DistrictSpec.for_tier(args.size, seed=args.seed)),
        client_id=args.client_id,
        client_secret=args.client_secret,
        token=args.token,
        limit=args.rate_limit,
        window_seconds=args.window,
        faults=faults,
    )
    config = sim.provider_config(f"http://{args.host}:{args.port}")
    counts = sim.store.roster_counts()
    print(f"Clever simulator: {args.size} district ready in {time.perf_counter() - started:.1f}s: {counts}")
    print(f"provider config: {json.dumps(config)}", flush=True)
    serve_forever(create_app(sim), args.host, args.port)
    return 0
