"""The demo's simulated SIS sources: one per provider type this build has a connector for, each
serving the same generated S-tier district on a port of 127.0.0.1.

Simulators run in the demo process (threads), so stopping the demo stops them. A source whose
connector is not part of this build is simply left out. Each listens on a fixed port after the
API's (3001 to 3004 beside the default 3000) with fixed development credentials, so an admin can
add a provider of their own against them, and the README's examples point at them.
"""

from __future__ import annotations

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
# fixed development credentials of every simulated source (the demo is loopback-only)
CLIENT_ID = "demo-client"
CLIENT_SECRET = "demo-secret"  # noqa: S105 - published development credential of the simulators
SFTP_PASSWORD = "demo-password"  # noqa: S105
# each source's port, as an offset from the demo API's port
PORT_OFFSETS = {"clever": 1, "oneroster": 2, "classlink": 3, "sftp": 4}


@dataclass
class Source:
    """A running simulated SIS and the provider that reads it."""

    provider_type: ProviderType
    name: str
    config: dict[str, Any]
    stop: Callable[[], None]
    # where it listens, for the demo's welcome text (empty for a local folder)
    url: str = ""


@dataclass
class DemoData:
    """What every seeder shares: the district (built once) and a folder for files."""

    root: Path
    # the API's port: each source listens at a fixed offset from it (0: any free port)
    base_port: int = 0
    _district: District | None = None

    def port(self, source: str) -> int:
        return self.base_port + PORT_OFFSETS[source] if self.base_port else 0

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
    sim = CleverSimulator(data.district, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    server = ThreadedServer(create_app(sim), port=data.port("clever")).start()
    config = sim.provider_config(server.url)
    return Source(ProviderType.CLEVER, "Clever (simulated)", config, server.stop, server.url)


def _oneroster(data: DemoData, flavour: Flavour) -> tuple[dict[str, Any], Callable[[], None], str]:
    options = SimulatorOptions(flavour=flavour, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    sim = OneRosterSimulator(Roster.from_district(data.district), options)
    server = ThreadedServer(sim.app, port=data.port("classlink" if flavour == "classlink" else "oneroster")).start()
    return sim.provider_config(server.url), server.stop, server.url


def oneroster_api(data: DemoData) -> Source:
    return Source(ProviderType.ONEROSTER_API, "OneRoster API (simulated)", *_oneroster(data, "generic"))


def classlink(data: DemoData) -> Source:
    return Source(ProviderType.CLASSLINK, "ClassLink (simulated)", *_oneroster(data, "classlink"))


def sftp_csv(data: DemoData) -> Source:
    served = data.package("sftp", zip=True)
    host_key = load_or_create_host_key(data.root / "sftp-host-key")
    sim = SftpSimulator(served, password=SFTP_PASSWORD, host_key=host_key, port=data.port("sftp")).start()
    config: dict[str, Any] = sim.provider_config("/")
    config["stableSeconds"] = 0
    url = f"sftp://{sim.username}@{sim.host}:{sim.port}/"
    return Source(ProviderType.ONEROSTER_CSV, "OneRoster CSV on SFTP (simulated)", config, sim.stop, url)


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


def start_sources(root: Path, base_port: int = 0) -> list[Source]:
    """Starts every available simulator; on a failure, stops the ones already started."""
    data = DemoData(root, base_port)
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


def describe(source: Source) -> list[str]:
    """How to reach a source and sign in to it, in lines for the demo's welcome text."""
    if not source.url:
        return [f"{source.name}: folder {source.config.get('localPath')}"]
    lines = [f"{source.name}: {source.url}"]
    config = source.config.get("sftp") or source.config
    for key in ("baseUrl", "districtId", "tenantId", "clientId", "clientSecret", "username", "password"):
        if key in config:
            lines.append(f"    {key}: {config[key]}")
    if "hostKeyFingerprint" in config:
        lines.append(f"    hostKeyFingerprint: {config['hostKeyFingerprint']}")
    return lines
