"""Clever's rate limit and the simulator's switchable faults.

The limit is a fixed window per bearer token (1200 per 60 s by default) that resets at the
window's end, with lowercase `x-ratelimit-*` headers on every data response and an empty-body
429 past the limit. Every window's count is kept, so a test can check that clients stayed
under the limit. Faults are counted in data requests and switch on and off at run time.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class Window:
    start: int
    count: int = 0
    refused: int = 0


class RateLimiter:
    def __init__(self, limit: int = 1200, window_seconds: int = 60) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        # (token digest, window start) -> window
        self.windows: dict[tuple[str, int], Window] = {}

    def _window_start(self) -> int:
        return int(time.time() // self.window_seconds) * self.window_seconds

    def hit(self, token: str) -> tuple[bool, dict[str, str]]:
        """Count one request; (allowed, headers)."""
        start = self._window_start()
        key = (hashlib.sha256(token.encode()).hexdigest()[:16], start)
        window = self.windows.get(key)
        if window is None:
            window = self.windows[key] = Window(start)
        window.count += 1
        allowed = window.count <= self.limit
        if not allowed:
            window.refused += 1
        return allowed, self.headers(max(0, self.limit - window.count), start + self.window_seconds)

    def headers(self, remaining: int, reset: int) -> dict[str, str]:
        return {
            "x-ratelimit-bucket": "bearer",
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(remaining),
            "x-ratelimit-reset": str(reset),
        }

    def reset_at(self) -> int:
        return self._window_start() + self.window_seconds

    def report(self) -> dict[str, Any]:
        windows = sorted(self.windows.values(), key=lambda w: w.start)
        return {
            "limit": self.limit,
            "windowSeconds": self.window_seconds,
            "maxPerWindow": max((w.count for w in windows), default=0),
            "refused": sum(w.refused for w in windows),
            "windows": [{"start": w.start, "count": w.count, "refused": w.refused} for w in windows],
        }


@dataclass
class Faults:
    """Every `*_every`-th data request starts a burst of `*_burst` faulty answers (0 = off)."""

    error_every: int = 0
    error_burst: int = 1
    error_status: int = 503
    throttle_every: int = 0
    throttle_burst: int = 1
    slow_every: int = 0
    slow_seconds: float = 0.0
    # every n-th page that has a next link loses it
    missing_next_every: int = 0

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f.type for f in fields(self)}
        for name, value in changes.items():
            if name not in known:
                raise ValueError(f"unknown fault {name!r}; known: {', '.join(known)}")
            setattr(self, name, float(value) if name == "slow_seconds" else int(value))

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FaultState:
    """Counters that turn the fault settings into decisions, request by request."""

    faults: Faults = field(default_factory=Faults)
    requests: int = 0
    pages_with_next: int = 0
    errors_left: int = 0
    throttles_left: int = 0
    served: dict[str, int] = field(default_factory=lambda: {"errors": 0, "throttled": 0, "slow": 0, "missingNext": 0})

    def next_request(self) -> str | None:
        """'error', 'throttle' or None for the request being answered."""
        self.requests += 1
        f = self.faults
        if self.errors_left == 0 and f.error_every and self.requests % f.error_every == 0:
            self.errors_left = max(1, f.error_burst)
        if self.throttles_left == 0 and f.throttle_every and self.requests % f.throttle_every == 0:
            self.throttles_left = max(1, f.throttle_burst)
        if self.errors_left:
            self.errors_left -= 1
            self.served["errors"] += 1
            return "error"
        if self.throttles_left:
            self.throttles_left -= 1
            self.served["throttled"] += 1
            return "throttle"
        return None

    def slow(self) -> float:
        f = self.faults
        if f.slow_every and f.slow_seconds > 0 and self.requests % f.slow_every == 0:
            self.served["slow"] += 1
            return f.slow_seconds
        return 0.0

    def drop_next(self) -> bool:
        self.pages_with_next += 1
        every = self.faults.missing_next_every
        if every and self.pages_with_next % every == 0:
            self.served["missingNext"] += 1
            return True
        return False
