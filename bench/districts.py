"""Many districts on one deployment: the same districts synced one at a time, then all at once.

Each district is its own tenant with a CSV provider of its own. The same worker pool serves both
passes; the concurrent pass runs with `MAX_CONCURRENT_SYNCS` slots (the worker reads it from its
environment), the sequential one requests the next district when the previous one finished.
While the concurrent pass runs, a sampler asks Postgres which sessions wait on a lock and for
how long: runs of different districts must not wait on each other.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from devkit.processes import Syncs, start_worker
from devkit.providers import create_provider
from libs.enums import ProviderType
from libs.settings import Settings

TIER = "S"


@dataclass
class LockWaits:
    """Lock waits seen by sampling `pg_stat_activity` (a wait shorter than the interval may be missed)."""

    longest_s: float = 0.0
    waits: int = 0
    over_1s: int = 0
    # the statement of the longest wait per lock type, to say what to change
    worst: dict[str, tuple[float, str]] = field(default_factory=dict)
    _seen: dict[tuple[int, str], float] = field(default_factory=dict)

    def observe(self, pid: int, since: str, waited_s: float, lock: str = "", query: str = "") -> None:
        if waited_s > self.worst.get(lock, (0.0, ""))[0]:
            self.worst[lock] = (waited_s, " ".join(query.split())[:120])
        key = (pid, since)
        if key not in self._seen:
            self.waits += 1
        previous = self._seen.get(key, 0.0)
        self._seen[key] = max(previous, waited_s)
        if previous <= 1.0 < waited_s:
            self.over_1s += 1
        self.longest_s = max(self.longest_s, waited_s)


@contextmanager
def sampling_lock_waits(database_url: str, interval: float = 0.05) -> Iterator[LockWaits]:
    waits = LockWaits()
    stop = threading.Event()

    def sample() -> None:
        # state_change is when the waiting statement started; a backend waiting on a heavyweight
        # lock held by another backend is the cross-run contention this scenario looks for
        query = """
            SELECT pid, state_change::text, extract(epoch FROM clock_timestamp() - state_change),
                   wait_event, query
            FROM pg_stat_activity
            WHERE datname = current_database() AND wait_event_type = 'Lock'
              AND cardinality(pg_blocking_pids(pid)) > 0
        """
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                for pid, since, waited, lock, statement in conn.execute(query).fetchall():
                    waits.observe(pid, since, float(waited), lock or "", statement or "")
                stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield waits
    finally:
        stop.set()
        thread.join()


def _packages(out: Path, count: int) -> tuple[list[Path], int]:
    paths, records = [], 0
    for seed in range(1, count + 1):
        district = District(DistrictSpec.for_tier(TIER, seed=100 + seed))
        records += sum(district.counts().values())
        path = out / f"{TIER}-districts" / f"district-{seed}"
        if not (path / ".complete").exists():
            write_oneroster_csv(district, path)
            (path / ".complete").write_text("ok")
        paths.append(path)
    return paths, records


@dataclass
class ManyResult:
    districts: int
    slots: int
    records: int
    sequential_s: float
    concurrent_s: float
    statuses: list[str]
    waits: LockWaits


def run_many(
    settings: Settings, syncs: Syncs, database_url: str, work: Path, out: Path, *, count: int, slots: int
) -> ManyResult:
    paths, records = _packages(out, count)
    statuses: list[str] = []

    def providers(label: str) -> list[uuid.UUID]:
        # fresh tenants for each pass, so that both passes do the same work: a first sync of each
        return [
            create_provider(
                syncs.engine,
                settings,
                provider_type=ProviderType.ONEROSTER_CSV,
                config={"localPath": str(path)},
                tenant_id=f"bench-{label}-{n}-{uuid.uuid4().hex[:4]}",
            )
            for n, path in enumerate(paths, 1)
        ]

    worker = start_worker(settings, work, processes=2, threads=2, MAX_CONCURRENT_SYNCS=str(slots))
    try:
        started = time.perf_counter()
        for provider_id in providers("one-at-a-time"):
            statuses.append(str(syncs.run(provider_id, timeout=1800)["status"]))
        sequential = time.perf_counter() - started

        at_once = providers("all-at-once")
        with sampling_lock_waits(database_url) as waits:
            started = time.perf_counter()
            run_ids = [syncs.start(provider_id) for provider_id in at_once]
            statuses.extend(str(syncs.wait(run_id, timeout=1800)["status"]) for run_id in run_ids)
            concurrent = time.perf_counter() - started
    finally:
        worker.stop()
    return ManyResult(count, slots, records, sequential, concurrent, statuses, waits)


def print_many(result: ManyResult) -> None:
    seq_rate = result.records / result.sequential_s
    con_rate = result.records / result.concurrent_s
    print()
    print(
        f"many districts: {result.districts} {TIER}-tier districts, {result.records:,} records, "
        f"MAX_CONCURRENT_SYNCS {result.slots}"
    )
    print(f"  one at a time: {result.sequential_s:7.1f}s  {seq_rate:>10,.0f} records/s")
    print(f"  all at once:   {result.concurrent_s:7.1f}s  {con_rate:>10,.0f} records/s  ({con_rate / seq_rate:.2f}x)")
    print(
        f"  lock waits between runs: {result.waits.waits} seen, longest {result.waits.longest_s:.2f}s, "
        f"{result.waits.over_1s} over 1 s"
    )
    for lock, (waited, statement) in sorted(result.waits.worst.items(), key=lambda kv: -kv[1][0]):
        print(f"    {lock:<14} {waited:5.2f}s  {statement}")
    bad = [s for s in result.statuses if s != "SUCCESS"]
    if bad:
        print(f"  runs not SUCCESS: {', '.join(bad)}")
