"""Switchable misbehaviour: 429 bursts with Retry-After, 5xx bursts, a total that grows mid-read.

Counted per data request, deterministic (every Nth request starts a burst), so a test that
injects faults gets the same sequence every time. Changed at run time through the Python API
or `POST /_sim/faults` with the same field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any


@dataclass
class Faults:
    # every Nth data request starts a burst of `rate_limit_burst` 429 answers (0: never)
    rate_limit_every: int = 0
    rate_limit_burst: int = 1
    retry_after: int = 1
    # every Nth data request starts a burst of `server_error_burst` 503/502 answers (0: never)
    server_error_every: int = 0
    server_error_burst: int = 1
    # collection -> after this many page requests of it, one new object appears in it (once)
    grow_after: dict[str, int] = field(default_factory=dict)
    # added to every data request, like a Roster Server generating its pages
    latency_ms: float = 0.0

    _count: int = 0
    _limited_left: int = 0
    _errors_left: int = 0
    _pages: dict[str, int] = field(default_factory=dict)

    def update(self, values: dict[str, Any]) -> None:
        names = {f.name for f in fields(self) if not f.name.startswith("_")}
        unknown = set(values) - names
        if unknown:
            raise ValueError(f"unknown fault settings: {', '.join(sorted(unknown))}")
        for name, value in values.items():
            setattr(self, name, value)
        self._limited_left = self._errors_left = 0

    def next_fault(self) -> int | None:
        """The status to answer this data request with instead of data, if any."""
        self._count += 1
        if self._limited_left == 0 and self.rate_limit_every and self._count % self.rate_limit_every == 0:
            self._limited_left = self.rate_limit_burst
        if self._errors_left == 0 and self.server_error_every and self._count % self.server_error_every == 0:
            self._errors_left = self.server_error_burst
        if self._limited_left:
            self._limited_left -= 1
            return 429
        if self._errors_left:
            self._errors_left -= 1
            return 503 if self._errors_left % 2 == 0 else 502
        return None

    def grows_now(self, collection: str) -> bool:
        """True once, when `collection` has been paged `grow_after[collection]` times."""
        if collection not in self.grow_after:
            return False
        self._pages[collection] = self._pages.get(collection, 0) + 1
        return self._pages[collection] == self.grow_after[collection]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


__all__ = ["Faults"]
