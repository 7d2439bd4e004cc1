"""The OneRoster 1.1 REST benchmark: a generated district served by `sis-sync simulate oneroster`
in its own process, read by the connector alone (records/s), then synced through the pipeline.

Needs DATABASE_URL (a migrated database is created and dropped: sis_sync_bench_<random>);
without it an embedded Postgres under .data/bench is used.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import text

from bench.pipeline import drive
from libs.connectors.base import ConnectorContext
from libs.connectors.http.oauth import OAuth1Signer
from libs.connectors.records import RecordError
from libs.connectors.registry import build_connector
from libs.db import migrate
from libs.db.crypto import generate_key
from libs.db.dev_secrets import config_cipher
from libs.db.engine import make_engine
from libs.db.settings import load_settings
from libs.enums import ProviderType, SyncTrigger
from libs.etl import runs
from libs.etl.context import EtlContext
from libs.generator import District, DistrictSpec
from libs.simulators.oneroster.app import SimulatorOptions
from libs.simulators.oneroster.roster import PATH

PORT = 18_400
CREDENTIALS = {"clientId": SimulatorOptions.client_id, "clientSecret": SimulatorOptions.client_secret}


@contextmanager
def simulator(size: str, port: int) -> Iterator[str]:
    command = [sys.executable, "-m", "services.cli", "simulate", "oneroster", "--size", size, "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
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
    connector = build_connector(ProviderType.ONEROSTER_API, config, ConnectorContext(provider_id="bench"))
    started = time.perf_counter()
    records = 0
    try:
        for step in connector.plan():
            records += sum(1 for item in connector.extract(step) if not isinstance(item, RecordError))
    finally:
        connector.close()
    return records, time.perf_counter() - started


def _database() -> tuple[str, str]:
    """(server URL, fresh database URL) from DATABASE_URL, or an embedded server."""
    base = os.environ.get("DATABASE_URL")
    if not base:
        from libs.embedded.postgres import EmbeddedPostgres

        base = EmbeddedPostgres(Path(".data/bench/postgres")).url("postgres")
    name = f"sis_sync_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base, base.rsplit("/", 1)[0] + "/" + name


def pipeline_sync(url: str, args: argparse.Namespace) -> dict[str, object]:
    base, database_url = _database()
    migrate.upgrade(database_url)
    settings = load_settings(database_url=database_url, config_encryption_keys=generate_key(), app_env="test")
    engine = make_engine(database_url)
    ctx = EtlContext(settings=settings, engine=engine, cipher=config_cipher(settings), redis=None)
    provider_id = uuid.uuid4()
    config = {**CREDENTIALS, "baseUrl": url + PATH, "requestsPerMinute": 1_000_000}
    sealed = ctx.cipher.encrypt(config, provider_id=str(provider_id))
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext) "
                    "VALUES (:id, 'bench', 'ONEROSTER_API', 'bench', :c)"
                ),
                {"id": provider_id, "c": sealed},
            )
            run = runs.request_run(conn, provider_id, trigger=SyncTrigger.MANUAL, requested_by="bench")
        drive(ctx, run.run_id, extract_workers=args.extract_workers)
        with engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, timings, stats FROM sis_sync_runs WHERE id = :r"), {"r": run.run_id}
            ).one()
        return {"status": row.status, "timings": row.timings, "stats": row.stats}
    finally:
        engine.dispose()
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')


def run(size: str, args: argparse.Namespace) -> int:
    started = time.perf_counter()
    counts = District(DistrictSpec.for_tier(size, seed=1)).counts()
    expected = sum(counts.values())
    with simulator(size, PORT) as url:
        print(f"simulator up in {time.perf_counter() - started:.1f}s ({expected:,} records)", flush=True)
        print(f"simulator: {simulator_requests_per_second(url):,.0f} signed requests/s", flush=True)
        records, seconds = connector_records_per_second(url)
        print(
            f"connector alone: {records:,} records in {seconds:.1f}s = {records / seconds:,.0f} records/s", flush=True
        )
        if records != expected:
            print(f"connector read {records:,} records, the generator made {expected:,}")
            return 1
        result = pipeline_sync(url, args)
    timings = result["timings"] or {}
    assert isinstance(timings, dict)
    print(f"{size}-tier OneRoster API sync: {result['status']} in {timings.get('total', 0):.1f}s", flush=True)
    print("  " + ", ".join(f"{phase} {seconds:.1f}s" for phase, seconds in timings.items() if phase != "total"))
    return 0 if result["status"] == "SUCCESS" else 1
