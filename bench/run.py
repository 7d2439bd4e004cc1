"""`make bench`: sync a generated district through the real pipeline and print the figures.

For each scenario: a full sync, a no-change re-sync and a 1% churn re-sync, each timed from
request to final status; where the source can serve the base district again, the store goes
back to it (an untimed sync) and the same churn is previewed (request to HELD) and the preview
approved (approve to final status); last, the run that applied the churn is undone (request to
final status), with records/s, store rows written and the peak RSS of the worker
processes; then the floor (binary COPY + one MERGE of the same rows) measured in the same
session on the same rows. Figures, not assertions: the bars live in the issues.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
from sqlalchemy import Engine, text

from bench.districts import print_many, run_many
from bench.floor import measure_floor
from bench.memory import PeakRss
from bench.profile import print_profile, profiling
from bench.scenarios import SCENARIOS, BenchContext, Served
from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.processes import Syncs, start_worker
from devkit.providers import create_provider, update_config
from libs.db import migrate
from libs.db.crypto import generate_key
from libs.db.engine import make_engine
from libs.db.models.staging import HELD_TABLES, STAGING_TABLES
from libs.etl import held, undo
from libs.etl.phase import start_sync
from libs.settings import Settings, load_settings

OUT = Path(__file__).resolve().parent / "out"


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """A Postgres server URL and a Redis URL: from the environment, else embedded ones."""
    pg = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    rd = os.environ.get("BENCH_REDIS_URL") or os.environ.get("TEST_REDIS_URL")
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sis-bench-")))
        if not pg:
            from devkit.embedded.postgres import EmbeddedPostgres

            server = EmbeddedPostgres(tmp / "pg")
            stack.callback(server.stop)
            pg = server.url("postgres")
        if not rd:
            from devkit.embedded.redis import EmbeddedRedis

            redis_server = EmbeddedRedis(tmp / "redis")
            stack.callback(redis_server.stop)
            rd = redis_server.url
        yield pg, rd


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """The URL of a new database on the server at `server_url` (a postgresql:// URL), dropped after use."""
    name = f"sis_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlsplit(server_url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _packages(district: District, churned: District, size: str, seed: int) -> dict[str, Path]:
    root = OUT / f"{size}-{seed}"
    marker = root / ".complete"
    paths = {"base": root / "base", "churned": root / "churned"}
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        write_oneroster_csv(district, paths["base"])
        write_oneroster_csv(churned, paths["churned"])
        marker.write_text("ok")
        print(f"generated {size} packages in {time.perf_counter() - started:.1f}s under {root}")
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make bench")
    parser.add_argument("--size", default="M", choices=["S", "M", "L", "XL"])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--districts", type=int, default=8, help="many-districts scenario: S-tier districts (0 skips)")
    parser.add_argument("--slots", type=int, default=4, help="many-districts scenario: MAX_CONCURRENT_SYNCS")
    parser.add_argument("--profile", action="store_true", help="print each run's database time by statement")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")

    district = District(DistrictSpec.for_tier(args.size, seed=args.seed))
    churned = district.with_churn(percent=1.0, seed=args.seed + 1)
    counts = district.counts()
    total_records = sum(counts.values())
    print(f"tier {args.size} (seed {args.seed}): " + ", ".join(f"{n:,} {e.plural}" for e, n in counts.items()))
    packages = _packages(district, churned, args.size, args.seed)

    results: list[Result] = []
    with servers() as (pg_server, redis_url), tempfile.TemporaryDirectory(prefix="sis-bench-work-") as tmp:
        work = Path(tmp)
        ctx = BenchContext(district=district, churned=churned, packages=packages)
        # each scenario on a database of its own, so none starts against another one's rows
        for name in names:
            with fresh_database(pg_server) as database_url, ExitStack() as stack:
                migrate.upgrade(database_url)
                settings = _settings(database_url, redis_url, work)
                engine = make_engine(database_url)
                stack.callback(engine.dispose)
                worker = start_worker(settings, work, processes=args.processes, threads=args.threads)
                stack.callback(worker.stop)
                syncs = Syncs(settings, engine)
                stack.callback(syncs.close)
                served: Served = SCENARIOS[name](ctx)
                stack.callback(served.close)
                with PeakRss(worker.pid) as rss:
                    results.extend(_scenario(name, served, syncs, engine, settings, rss, total_records, args.profile))
        many = None
        if args.districts:
            with fresh_database(pg_server) as database_url, ExitStack() as stack:
                migrate.upgrade(database_url)
                settings = _settings(database_url, redis_url, work)
                engine = make_engine(database_url)
                stack.callback(engine.dispose)
                syncs = Syncs(settings, engine)
                stack.callback(syncs.close)
                many = run_many(settings, syncs, database_url, work, OUT, count=args.districts, slots=args.slots)
        with fresh_database(pg_server) as database_url:
            floor = measure_floor(database_url, district)

    _print(results, floor, total_records)
    if many is not None:
        print_many(many)
    return 0


def _settings(database_url: str, redis_url: str, work: Path) -> Settings:
    return load_settings(
        database_url=database_url,
        redis_url=redis_url,
        redis_namespace=f"sis-bench-{uuid.uuid4().hex[:6]}",
        app_env="test",
        config_encryption_keys=generate_key(),
        auth_jwt_secret="bench-" + "x" * 40,
        data_dir=work / "data",
        allow_local_csv_paths=True,
    )


@dataclass
class Result:
    scenario: str
    run: str
    status: str
    wall: float
    records_per_s: float
    rows_written: int
    peak_rss_mb: float
    timings: dict[str, float]
    message: str | None


def _scenario(
    name: str,
    served: Served,
    syncs: Syncs,
    engine: Engine,
    settings: Settings,
    rss: PeakRss,
    total_records: int,
    profile: bool = False,
) -> list[Result]:
    provider_id = create_provider(
        engine, settings, provider_type=served.provider_type, config=served.config, tenant_id=f"bench-{name}"
    )
    rows = []
    labels = ["full", "no-change", "churn-1%"]
    if served.base is not None:
        labels += ["back", "preview-1%", "approve-1%"]
    # last, so that it moves no other figure: undo the run that applied the churn (the approved
    # preview, or the churn sync)
    labels.append("undo-1%")
    held_run: uuid.UUID | None = None
    churn_run: uuid.UUID | None = None
    for label in labels:
        if label == "churn-1%":
            update_config(engine, settings, provider_id, served.churn())
        elif label == "back" and served.base is not None:
            update_config(engine, settings, provider_id, served.base())
        elif label == "preview-1%":
            update_config(engine, settings, provider_id, served.churn())
        rss.reset()
        with ExitStack() as sampling:
            statements = sampling.enter_context(profiling(str(settings.database_url))) if profile else None
            started = time.perf_counter()
            if label == "approve-1%":
                assert held_run is not None
                with engine.begin() as conn:
                    held.approve(conn, held_run, by="bench")
                syncs.send(start_sync(held_run))
                run = syncs.wait(held_run, timeout=3600)
            elif label == "undo-1%":
                applied = held_run or churn_run
                assert applied is not None
                with engine.begin() as conn:
                    requested = undo.request(conn, applied, by="bench", force=False)
                syncs.send(start_sync(requested.run_id))
                run = syncs.wait(requested.run_id, timeout=3600)
            elif label == "preview-1%":
                run = syncs.run(provider_id, timeout=3600, options={"preview": True})
                held_run = run["id"]
                kept, staged = _plan_size(engine, held_run)
                share = f"{kept / staged:.1%} of its staging rows"
                print(f"  {name:<12} held plan {kept / 1e6:.2f} MB, {share}", flush=True)
            else:
                run = syncs.run(provider_id, timeout=3600)
                if label == "churn-1%":
                    churn_run = run["id"]
            wall = time.perf_counter() - started
        stats = run["stats"] or {}
        print(f"  {name:<12} {label:<10} {run['status']:<8} {wall:7.1f}s", flush=True)
        if label == "back":
            continue  # only puts the store back at the base district for the preview
        rows.append(
            Result(
                scenario=name,
                run=label,
                status=str(run["status"]),
                wall=wall,
                records_per_s=total_records / wall if wall else 0.0,
                rows_written=int(stats.get("rowsWritten", 0)),
                peak_rss_mb=rss.peak_child_mb,
                timings=dict(run["timings"] or {}),
                message=run["error_message"],
            )
        )
        if statements is not None:
            print_profile(label, statements, wall)
    return rows


def _plan_size(engine: Engine, run_id: uuid.UUID) -> tuple[int, int]:
    """Bytes of a held run's kept plan and of its staging rows."""
    with engine.connect() as conn:

        def size(tables: Iterable[str]) -> int:
            return sum(
                int(
                    conn.execute(
                        text(f"SELECT coalesce(sum(pg_column_size(t.*)), 0) FROM {table} t WHERE run_id = :r"),
                        {"r": run_id},
                    ).scalar_one()
                )
                for table in tables
            )

        return size(t.name for t in HELD_TABLES.values()), size(t.name for t in STAGING_TABLES.values())


def _print(results: list[Result], floor: dict[str, float], total_records: int) -> None:
    print()
    header = f"{'scenario':<12} {'run':<10} {'status':<8} {'wall s':>8} {'records/s':>10} {'rows written':>13} "
    header += f"{'worker peak RSS MB':>19}  phases (s)"
    print(header)
    print("-" * len(header))
    full_wall: dict[str, float] = {}
    churn_wall: dict[str, float] = {}
    for row in results:
        if row.run == "full":
            full_wall[row.scenario] = row.wall
        if row.run == "churn-1%":
            churn_wall[row.scenario] = row.wall
        share = ""
        if row.run == "no-change" and row.scenario in full_wall:
            share = f"  ({100 * row.wall / full_wall[row.scenario]:.0f}% of full)"
        if row.run in ("preview-1%", "approve-1%", "undo-1%") and row.scenario in churn_wall:
            share = f"  ({row.wall / churn_wall[row.scenario]:.2f}x the churn-1% sync)"
        phases = " ".join(f"{k}={v}" for k, v in row.timings.items() if k != "total")
        print(
            f"{row.scenario:<12} {row.run:<10} {row.status:<8} {row.wall:8.1f} {row.records_per_s:>10,.0f} "
            f"{row.rows_written:>13,} {row.peak_rss_mb:>19.0f}  {phases}{share}"
        )
        if row.message:
            print(f"{'':<23} note: {row.message}")
    print()
    print(
        f"floor (binary COPY + one MERGE of the same {total_records:,} rows): {floor['total']:.1f}s "
        f"({', '.join(f'{k} {v}s' for k, v in floor.items() if k != 'total')})"
    )
    for scenario, wall in full_wall.items():
        print(f"pipeline / floor, {scenario} full sync: {wall / floor['total']:.2f}x")
    if "csv-local" in full_wall and "csv-sftp" in full_wall:
        print(f"csv-sftp / csv-local, full sync: {full_wall['csv-sftp'] / full_wall['csv-local']:.2f}x")
