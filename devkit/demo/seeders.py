"""The demo's simulated SIS sources: one per provider type this build has a connector and a
simulator for, each serving the same generated S-tier district on a port of 127.0.0.1.

Simulators run in the demo process (threads), so stopping the demo stops them. A source whose
connector or simulator is not part of this build is simply left out.
"""

from __future__ import annotations

import importlib
import importlib.util
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devkit.generator import District, DistrictSpec, write_oneroster_csv
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


def _module(name: str) -> Any:
    return importlib.import_module(name)


def _threaded(app: Any) -> Any:
    return _module("devkit.simulators.serving").ThreadedServer(app).start()


def clever(data: DemoData) -> Source:
    app = _module("devkit.simulators.clever.app")
    sim = app.Simulator(data.district, client_id="demo-client", client_secret=secrets.token_urlsafe(16))
    server = _threaded(app.create_app(sim))
    return Source(ProviderType.CLEVER, "Clever (simulated)", sim.provider_config(server.url), server.stop)


def _oneroster(data: DemoData, flavour: str) -> tuple[dict[str, Any], Callable[[], None]]:
    app = _module("devkit.simulators.oneroster.app")
    roster = _module("devkit.simulators.oneroster.roster")
    options = app.SimulatorOptions(flavour=flavour, client_secret=secrets.token_urlsafe(16))
    sim = app.Simulator(roster.Roster.from_district(data.district), options)
    server = _threaded(sim.app)
    return sim.provider_config(server.url), server.stop


def oneroster_api(data: DemoData) -> Source:
    return Source(ProviderType.ONEROSTER_API, "OneRoster API (simulated)", *_oneroster(data, "generic"))


def classlink(data: DemoData) -> Source:
    return Source(ProviderType.CLASSLINK, "ClassLink (simulated)", *_oneroster(data, "classlink"))


def sftp_csv(data: DemoData) -> Source:
    server = _module("devkit.simulators.sftp.server")
    served = data.package("sftp", zip=True)
    sim = server.SftpSimulator(
        served,
        password=secrets.token_urlsafe(16),
        host_key=server.load_or_create_host_key(data.root / "sftp-host-key"),
    ).start()
    config: dict[str, Any] = sim.provider_config("/")
    config["stableSeconds"] = 0
    return Source(ProviderType.ONEROSTER_CSV, "OneRoster CSV on SFTP (simulated)", config, sim.stop)


def local_csv(data: DemoData) -> Source:
    config = {"localPath": str(data.package("local", zip=False).resolve())}
    return Source(ProviderType.ONEROSTER_CSV, "OneRoster CSV (local folder)", config, lambda: None)


# provider type, the modules its simulator needs, and how to start it
SEEDERS: list[tuple[ProviderType, tuple[str, ...], Callable[[DemoData], Source]]] = [
    (ProviderType.CLEVER, ("devkit.simulators.clever.app", "devkit.simulators.serving"), clever),
    (ProviderType.ONEROSTER_API, ("devkit.simulators.oneroster.app", "devkit.simulators.serving"), oneroster_api),
    (ProviderType.CLASSLINK, ("devkit.simulators.oneroster.app", "devkit.simulators.serving"), classlink),
    (ProviderType.ONEROSTER_CSV, ("devkit.simulators.sftp.server",), sftp_csv),
    (ProviderType.ONEROSTER_CSV, (), local_csv),
]


def _present(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def available() -> list[Callable[[DemoData], Source]]:
    supported = set(registry.supported_types())
    return [seed for kind, modules, seed in SEEDERS if kind in supported and all(_present(m) for m in modules)]


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
