"""The demo's simulated SIS sources: one per provider type this build has a connector for, each
serving the same generated S-tier district on a port of 127.0.0.1.

Simulators run in the demo process (threads), so stopping the demo stops them. A source whose
connector is not part of this build is simply left out.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.simulators.clever.app import Simulator as CleverSimulator
from devkit.simulators.clever.app import create_app
from devkit.simulators.oneroster.app import Simulator as OneRosterSimulator
from devkit.simulators.oneroster.app import SimulatorOptions
from devkit.simulators.oneroster.roster import Flavour, Roster
from devkit.simulators.serving import ThreadedServer
from devkit.simulators.sftp.server import SftpSimulator, load_or_create_host_key
from libs.connectors import registry
from libs.enums import ProviderType

DEMO_TIER = "S"
DEMO_SEED = 1


@dataclass
class Source:
    """A running simulated SIS and the provider that reads it."""

    provider_type: ProviderType
    name: str
    config: dict[str, Any]
    stop: Callable[[], None]


@dataclass
class DemoData:
    """What every seeder shares: the district (built once) and a folder for files."""

    root: Path
    _district: District | None = None

    @property
    def district(self) -> District:
        if self._district is None:
            self._district = District(DistrictSpec.for_tier(DEMO_TIER, seed=DEMO_SEED))
        return self._district

    def package(self, name: str, *, zip: bool) -> Path:
        """The district as a OneRoster CSV package under root, written once."""
        folder = self.root / name
        target = folder / f"oneroster-{DEMO_TIER}.zip" if zip else folder / "package"
        marker = folder / ".complete"
        if not marker.exists():
            folder.mkdir(parents=True, exist_ok=True)
            write_oneroster_csv(self.district, target, zip=zip)
            marker.touch()
        return folder if zip else target


def clever(data: DemoData) -> Source:
    sim = CleverSimulator(data.district, client_id="demo-client", client_secret=secrets.token_urlsafe(16))
    server = ThreadedServer(create_app(sim)).start()
    return Source(ProviderType.CLEVER, "Clever (simulated)", sim.provider_config(server.url), server.stop)


def _oneroster(data: DemoData, flavour: Flavour) -> tuple[dict[str, Any], Callable[[], None]]:
    options = SimulatorOptions(flavour=flavour, client_secret=secrets.token_urlsafe(16))
    sim = OneRosterSimulator(Roster.from_district(data.district), options)
    server = ThreadedServer(sim.app).start()
    return sim.provider_config(server.url), server.stop


def oneroster_api(data: DemoData) -> Source:
    return Source(ProviderType.ONEROSTER_API, "OneRoster API (simulated)", *_oneroster(data, "generic"))


def classlink(data: DemoData) -> Source:
    return Source(ProviderType.CLASSLINK, "ClassLink (simulated)", *_oneroster(data, "classlink"))


def sftp_csv(data: DemoData) -> Source:
    served = data.package("sftp", zip=True)
    host_key = load_or_create_host_key(data.root / "sftp-host-key")
    sim = SftpSimulator(served, password=secrets.token_urlsafe(16), host_key=host_key).start()
    config: dict[str, Any] = sim.provider_config("/")
    config["stableSeconds"] = 0
    return Source(ProviderType.ONEROSTER_CSV, "OneRoster CSV on SFTP (simulated)", config, sim.stop)


def local_csv(data: DemoData) -> Source:
    config = {"localPath": str(data.package("local", zip=False).resolve())}
    return Source(ProviderType.ONEROSTER_CSV, "OneRoster CSV (local folder)", config, lambda: None)


# provider type and how to start its simulated source
SEEDERS: list[tuple[ProviderType, Callable[[DemoData], Source]]] = [
    (ProviderType.CLEVER, clever),
    (ProviderType.ONEROSTER_API, oneroster_api),
    (ProviderType.CLASSLINK, classlink),
    (ProviderType.ONEROSTER_CSV, sftp_csv),
    (ProviderType.ONEROSTER_CSV, local_csv),
]


def available() -> list[Callable[[DemoData], Source]]:
    supported = set(registry.supported_types())
    return [seed for kind, seed in SEEDERS if kind in supported]


def start_sources(root: Path) -> list[Source]:
    """Starts every available simulator; on a failure, stops the ones already started."""
    data = DemoData(root)
    started: list[Source] = []
    try:
        for seed in available():
            started.append(seed(data))
    except BaseException:
        stop_sources(started)
        raise
    return started


def stop_sources(sources: list[Source]) -> None:
    for source in reversed(sources):
        source.stop()
