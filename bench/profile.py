"""Where a run's database time goes, by statement: a sampling profiler over `pg_stat_activity`.

Every `interval` seconds it reads the active sessions of the benchmark's database and charges
the interval to each one's statement, normalised (whitespace folded, literals and the run's ids
blanked, cut to its first words). It needs no server setting or extension, so it profiles the
embedded Postgres and a managed one alike. A statement shorter than the interval is seen in
proportion to how often it runs, which is what a profile needs.
"""

from __future__ import annotations

import re
import threading
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

_LITERALS = re.compile(r"'[^']*'|\$\d+|\b\d+\b")
_SPACES = re.compile(r"\s+")


def signature(statement: str, width: int = 110) -> str:
    return _SPACES.sub(" ", _LITERALS.sub("?", statement)).strip()[:width]


class Profile:
    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.seconds: defaultdict[str, float] = defaultdict(float)

    def top(self, n: int = 12) -> list[tuple[str, float]]:
        return sorted(self.seconds.items(), key=lambda kv: -kv[1])[:n]

    def total(self) -> float:
        return sum(self.seconds.values())


@contextmanager
def profiling(database_url: str, interval: float = 0.02) -> Iterator[Profile]:
    profile = Profile(interval)
    stop = threading.Event()
    query = """
        SELECT query FROM pg_stat_activity
         WHERE datname = current_database() AND state = 'active' AND pid <> pg_backend_pid()
           AND backend_type = 'client backend'
    """

    def sample() -> None:
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                for (statement,) in conn.execute(query).fetchall():
                    profile.seconds[signature(statement or "")] += interval
                stop.wait(interval)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield profile
    finally:
        stop.set()
        thread.join()


def print_profile(label: str, profile: Profile, wall: float) -> None:
    print(f"  database time by statement, {label} ({profile.total():.1f}s of active sessions in {wall:.1f}s):")
    for statement, seconds in profile.top():
        print(f"    {seconds:6.1f}s  {statement}")
