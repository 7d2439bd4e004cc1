"""Benchmark scenarios: how a provider of each kind is set up to serve the generated district.

A scenario serves the base district, then the churned one, to the same provider; one that can
serve the base district again (`base`) also previews the churn and approves the preview. New
provider kinds add a function here and a line in SCENARIOS.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devkit.generator import District
from devkit.simulators.sftp import SftpSimulator
from libs.enums import ProviderType


@dataclass
class BenchContext:
    district: District
    churned: District
    packages: dict[str, Path]


@dataclass
class Served:
    provider_type: ProviderType
    config: dict[str, Any]
    # returns the config that serves the churned district (and switches any simulator to it)
    churn: Callable[[], dict[str, Any]]
    close: Callable[[], None] = field(default=lambda: None)
    # returns the config that serves the base district again, for the preview and approve runs
    # (a scenario whose source cannot go back, a simulator that moved on, has none)
    base: Callable[[], dict[str, Any]] | None = None


def csv_local(ctx: BenchContext) -> Served:
    return Served(
        provider_type=ProviderType.ONEROSTER_CSV,
        config={"localPath": str(ctx.packages["base"])},
        churn=lambda: {"localPath": str(ctx.packages["churned"])},
        base=lambda: {"localPath": str(ctx.packages["base"])},
    )


def csv_sftp(ctx: BenchContext) -> Served:
    """The same packages as csv-local, fetched over SFTP from the simulator (a real socket and SSH)."""
    root = ctx.packages["base"].parent
    simulator = SftpSimulator(root, password=secrets.token_urlsafe(12)).start()

    def remote(name: str) -> dict[str, Any]:
        return simulator.provider_config("/" + ctx.packages[name].relative_to(root).as_posix())

    return Served(
        provider_type=ProviderType.ONEROSTER_CSV,
        config=remote("base"),
        churn=lambda: remote("churned"),
        close=simulator.stop,
    )


def clever(ctx: BenchContext) -> Served:
    """The Clever simulator over HTTP on loopback; churn moves it on and records Clever events."""
    from devkit.simulators.clever.app import Simulator, create_app
    from devkit.simulators.serving import ThreadedServer

    simulator = Simulator(ctx.district)
    server = ThreadedServer(create_app(simulator)).start()
    config = simulator.provider_config(server.url)

    def churn() -> dict[str, Any]:
        simulator.advance(ctx.churned)
        return config

    return Served(provider_type=ProviderType.CLEVER, config=config, churn=churn, close=server.stop)


def oneroster_api(ctx: BenchContext) -> Served:
    """The OneRoster REST simulator (generic flavour, OAuth 1.0a) on a socket of this process."""
    from devkit.simulators.oneroster.app import Simulator
    from devkit.simulators.oneroster.roster import Roster
    from devkit.simulators.serving import ThreadedServer

    simulator = Simulator(Roster.from_district(ctx.district))
    server = ThreadedServer(simulator.app).start()
    # the simulator publishes no limit: measure the pipeline, not the default budget
    config = {**simulator.provider_config(server.url), "requestsPerMinute": 1_000_000}

    def churn() -> dict[str, Any]:
        simulator.replace(Roster.from_district(ctx.churned))
        return config

    return Served(provider_type=ProviderType.ONEROSTER_API, config=config, churn=churn, close=server.stop)


SCENARIOS: dict[str, Callable[[BenchContext], Served]] = {
    "csv-local": csv_local,
    "csv-sftp": csv_sftp,
    "clever": clever,
    "oneroster-api": oneroster_api,
}
