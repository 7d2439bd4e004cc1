"""Benchmark scenarios: how a provider of each kind is set up to serve the generated district.

A scenario serves the base district, then the churned one, to the same provider. New provider
kinds add a function here and a line in SCENARIOS.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from libs.enums import ProviderType
from libs.generator import District


@dataclass
class BenchContext:
    district: District
    churned: District
    packages: dict[str, Path]
    work_dir: Path


@dataclass
class Served:
    provider_type: ProviderType
    config: dict[str, Any]
    # returns the config that serves the churned district (and switches any simulator to it)
    churn: Callable[[], dict[str, Any]]
    close: Callable[[], None] = field(default=lambda: None)


def csv_local(ctx: BenchContext) -> Served:
    return Served(
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(ctx.packages["base"])},
        churn=lambda: {"localPath": str(ctx.packages["churned"])},
    )


def clever(ctx: BenchContext) -> Served:
    """The Clever simulator over HTTP on loopback; churn moves it on and records Clever events."""
    from libs.simulators.clever.app import Simulator, create_app
    from libs.simulators.serving import ThreadedServer

    simulator = Simulator(ctx.district)
    server = ThreadedServer(create_app(simulator)).start()
    config = {
        "clientId": simulator.client_id,
        "clientSecret": simulator.client_secret,
        "districtId": simulator.district_id,
        "apiUrl": server.url,
        "oauthUrl": server.url,
    }

    def churn() -> dict[str, Any]:
        simulator.advance(ctx.churned)
        return config

    return Served(provider_type=ProviderType.CLEVER, config=config, churn=churn, close=server.stop)


SCENARIOS: dict[str, Callable[[BenchContext], Served]] = {
    "csv-local": csv_local,
    "clever": clever,
}
