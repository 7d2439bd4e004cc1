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


def oneroster_api(ctx: BenchContext) -> Served:
    """The OneRoster REST simulator (generic flavour, OAuth 1.0a) on a socket of this process."""
    from libs.simulators.oneroster.app import Simulator, SimulatorOptions
    from libs.simulators.oneroster.roster import PATH, Roster
    from libs.simulators.serving import ServerThread

    options = SimulatorOptions()
    simulator = Simulator(Roster.from_district(ctx.district), options)
    server = ServerThread(simulator.app).start()
    config = {
        "baseUrl": server.url + PATH,
        "clientId": options.client_id,
        "clientSecret": options.client_secret,
        # the simulator publishes no limit: measure the pipeline, not the default budget
        "requestsPerMinute": 1_000_000,
    }

    def churn() -> dict[str, Any]:
        simulator.replace(Roster.from_district(ctx.churned))
        return config

    return Served(provider_type=ProviderType.ONEROSTER_API, config=config, churn=churn, close=server.stop)


SCENARIOS: dict[str, Callable[[BenchContext], Served]] = {
    "csv-local": csv_local,
    "oneroster-api": oneroster_api,
}
