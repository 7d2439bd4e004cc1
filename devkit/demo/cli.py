"""`sis-sync demo`: the whole service on this machine, UI on localhost, until Ctrl-C."""

from __future__ import annotations

import argparse
import signal

from devkit.demo.seed import TENANT, SeedError, seed
from devkit.demo.seeders import describe, start_sources
from devkit.demo.stack import DemoStack
from libs.auth import Role
from libs.logs import configure_logging
from services.cli.token import development_default, login_url, mint


def register(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, help="HTTP port (default: PORT)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = development_default()
    configure_logging(settings)
    stack = DemoStack(settings)
    # Ctrl-C and SIGTERM both stop children, then the embedded servers (a parent shell may
    # have started us with SIGINT ignored, so install the handler rather than inherit it)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    port = args.port or settings.port
    try:
        stack.start_servers()
        stack.start_processes(port=port)
        print("starting the simulated SIS sources (an S-tier district)")
        stack.sources = start_sources(settings.data_dir / "demo", base_port=port)
        seeder = mint(settings, role=Role.DISTRICT_ADMIN, tenant=TENANT, sub="demo-setup", ttl=600)
        try:
            seeded = seed(f"http://127.0.0.1:{port}", seeder, stack.sources)
        except SeedError as exc:
            print(f"\nthe demo providers could not be set up: {exc}")
            seeded = []
        print(f"\nsis-sync demo is up. Tenant {TENANT} has {len(seeded)} providers, each running a first sync:")
        for item in seeded:
            print(f"  - {item.name} ({item.provider_type})")
        print("\nThe simulated sources, with fixed development credentials (add a provider of your own against them):")
        for source in stack.sources:
            print("\n".join(f"  {line}" for line in describe(source)))
        token = mint(settings, role=Role.DISTRICT_ADMIN, tenant=TENANT, sub="demo-admin")
        link = login_url(settings, token, port=port)
        print(f"\nOpen the District Admin UI (this link signs you in for up to 12 hours):\n\n  {link}\n")
        print("Press Ctrl-C to stop.\n", flush=True)
        stack.wait()
    except KeyboardInterrupt:
        print("\nstopping the demo")
    finally:
        stack.stop()
    return 0
