"""OneRoster REST rates: how fast the simulator answers and how fast the connector reads.

    python -m bench.oneroster_rates --size M

The simulator runs as `sis-sync simulate oneroster` in its own process, as in a deployment;
the connector reads every step in this one, without a database. The sync through the whole
pipeline is the `oneroster-api` scenario of `make bench`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from devkit.generator import District, DistrictSpec
from devkit.simulators.oneroster.app import SimulatorOptions
from devkit.simulators.oneroster.roster import PATH
from libs.connectors.base import ConnectorContext
from libs.connectors.egress import EgressPolicy
from libs.connectors.http.oauth import OAuth1Signer
from libs.connectors.records import RecordError
from libs.connectors.registry import build_connector
from libs.enums import ProviderType

PORT = 18_400
CREDENTIALS = {"clientId": SimulatorOptions.client_id, "clientSecret": SimulatorOptions.client_secret}


@contextmanager
def simulator(size: str, port: int) -> Iterator[str]:
    command = [sys.executable, "-m", "services.cli", "simulate", "oneroster", "--size", size, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 600
        while True:
            try:
                httpx.get(url + "/_sim/stats", timeout=2)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("the OneRoster simulator did not start") from None
                time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def simulator_requests_per_second(url: str, seconds: float = 5.0) -> float:
    """Signed 100-user pages from two client threads, as fast as the simulator answers."""
    done = [0, 0]
    stop = time.monotonic() + seconds

    def client(slot: int) -> None:
        with httpx.Client(auth=OAuth1Signer(CREDENTIALS["clientId"], CREDENTIALS["clientSecret"])) as http:
            while time.monotonic() < stop:
                http.get(f"{url}{PATH}/users?limit=100&offset={(done[slot] % 50) * 100}").raise_for_status()
                done[slot] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(2)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.perf_counter() - started)


def connector_records_per_second(url: str) -> tuple[int, float]:
    config = {**CREDENTIALS, "baseUrl": url + PATH, "requestsPerMinute": 1_000_000}
    connector = build_connector(
        ProviderType.ONEROSTER_API,
        config,
        ConnectorContext(provider_id="bench", egress=EgressPolicy(allow_private=True)),
    )
    started = time.perf_counter()
    records = 0
    try:
        for step in connector.plan():
            records += sum(1 for item in connector.extract(step) if not isinstance(item, RecordError))
    finally:
        connector.close()
    return records, time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.oneroster_rates")
    parser.add_argument("--size", default="M", choices=["S", "M", "L", "XL"])
    args = parser.parse_args(argv)
    started = time.perf_counter()
    expected = sum(District(DistrictSpec.for_tier(args.size, seed=1)).counts().values())
    with simulator(args.size, PORT) as url:
        print(f"simulator up in {time.perf_counter() - started:.1f}s ({expected:,} records)", flush=True)
        print(f"simulator: {simulator_requests_per_second(url):,.0f} signed requests/s (100-user pages)", flush=True)
        records, seconds = connector_records_per_second(url)
    rate = records / seconds
    print(f"connector, one thread: {records:,} records in {seconds:.1f}s = {rate:,.0f} records/s")
    if records != expected:
        print(f"the connector read {records:,} records; the generator made {expected:,}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
