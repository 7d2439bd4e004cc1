"""`sis-sync simulate oneroster`: serve a generated district as a OneRoster 1.1 REST server.

    sis-sync simulate oneroster --flavour classlink --size M --port 8400

Then configure a provider with baseUrl http://127.0.0.1:8400/ims/oneroster/v1p1 and the
printed client id and secret (ClassLink: any tenantId plus that baseUrl).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from devkit.generator import District, DistrictSpec
from devkit.simulators.oneroster.app import Simulator, SimulatorOptions
from devkit.simulators.oneroster.roster import PATH, Roster
from devkit.simulators.serving import serve_forever


def register(parser: Any) -> None:
    parser.add_argument(
        "--flavour", choices=["generic", "classlink"], default="generic", help="a generic OneRoster server or ClassLink"
    )
    parser.add_argument("--size", default="S", help="district tier from the generator: S, M, L or XL (default S)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8400, help="port to listen on (default 8400)")
    parser.add_argument("--client-id", default=SimulatorOptions.client_id, help="OAuth client id it accepts")
    parser.add_argument(
        "--client-secret", default=SimulatorOptions.client_secret, help="OAuth client secret it accepts"
    )
    parser.add_argument("--auth", choices=["any", "oauth1", "oauth2"], default="any", help="generic flavour only")
    parser.add_argument("--max-limit", type=int, default=1000, help="page size the server clamps limit to")
    parser.add_argument("--link", action="store_true", help="send RFC 5988 Link headers (generic flavour)")
    parser.add_argument("--tenant", default=SimulatorOptions.tenant, help="Roster Server name in ClassLink hrefs")
    parser.add_argument("--rate-limit-every", type=int, default=0, help="every Nth request starts a 429 burst")
    parser.add_argument("--rate-limit-burst", type=int, default=1, help="429 answers in a row per burst")
    parser.add_argument("--retry-after", type=int, default=1, help="seconds named in Retry-After")
    parser.add_argument("--server-error-every", type=int, default=0, help="every Nth request starts a 5xx burst")
    parser.add_argument("--server-error-burst", type=int, default=1, help="5xx answers in a row per burst")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every data request")
    parser.set_defaults(handler=run)


def build(args: argparse.Namespace) -> Simulator:
    options = SimulatorOptions(
        flavour=args.flavour,
        client_id=args.client_id,
        client_secret=args.client_secret,
        auth=args.auth,
        max_limit=args.max_limit,
        link_header=args.link,
        tenant=args.tenant,
    )
    simulator = Simulator(Roster.from_district(District(DistrictSpec.for_tier(args.size, seed=args.seed))), options)
    # every fault option is named after its Faults setting
    simulator.faults.update({name: getattr(args, name) for name in simulator.faults.as_dict() if hasattr(args, name)})
    return simulator


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    try:
        simulator = build(args)
    except ValueError as exc:
        print(f"sis-sync simulate oneroster: {exc}", file=sys.stderr)
        return 2
    counts = ", ".join(f"{n} {name}" for name, n in simulator.store.roster.counts().items())
    print(f"OneRoster {args.flavour} simulator: {counts} (built in {time.perf_counter() - started:.1f}s)")
    print(f"  base URL      http://{args.host}:{args.port}{PATH}")
    print(f"  client id     {args.client_id}")
    print(f"  client secret {args.client_secret}")
    print(f"  stats         http://{args.host}:{args.port}/_sim/stats")
    sys.stdout.flush()
    serve_forever(simulator.app, args.host, args.port)
    return 0


__all__ = ["build", "register", "run"]
