"""Sending provider requests: budget, retries with backoff and jitter, typed errors.

One policy for every HTTP connector. 429 waits for the time the server names
(`Retry-After` in seconds or as an HTTP date, or `X-RateLimit-Reset` as an epoch, header
names in any case) and pauses the shared budget so other workers wait too; 5xx and network
errors back off exponentially with full jitter. Waiting is bounded: past `max_wait` seconds
the request fails with RateLimited or ProviderUnavailable, whose message says what happened.
A session may also carry a deadline (a connection test that must answer before its caller
gives up): no attempt then waits past it, and no retry starts that could not finish before it.
And a retry budget (SOURCE_RETRY_BUDGET_SECONDS): the seconds one session (one extract step)
may spend retrying, its waits and its attempts after a first failure, all requests together;
retries stop when it is spent, so a source that keeps failing cannot hold a sync slot for long.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from libs.connectors.errors import ProviderUnavailable, RateLimited, short_reason
from libs.connectors.http.budget import RequestBudget
from libs.connectors.pauses import pause
from libs.logs import run_field
from libs.metrics import counters

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 10
    # total seconds a single request may spend waiting for retries before it gives up
    max_wait: float = 600.0
    base_delay: float = 0.5
    max_delay: float = 60.0


@dataclass
class RequestStats:
    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    server_errors: int = 0
    network_errors: int = 0
    waited_seconds: float = 0.0
    by_status: dict[int, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "rateLimited": self.rate_limited,
            "serverErrors": self.server_errors,
            "networkErrors": self.network_errors,
            "waitedSeconds": round(self.waited_seconds, 3),
            "byStatus": {str(status): count for status, count in sorted(self.by_status.items())},
        }


def retry_after_seconds(
    response: httpx.Response, now: float | None = None, *, rate_limit_reset: bool = True
) -> float | None:
    """Seconds the server asked us to wait, from Retry-After or X-RateLimit-Reset, if any.

    `rate_limit_reset=False` reads Retry-After only: Clever sends X-RateLimit-Reset on every
    response, and a 5xx must not make us wait for the rate-limit window to roll over.
    """
    now = time.time() if now is None else now
    value = response.headers.get("retry-after")
    if value:
        value = value.strip()
        if value.replace(".", "", 1).isdigit():
            return max(0.0, float(value))
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - now)
    reset = response.headers.get("x-ratelimit-reset") if rate_limit_reset else None
    if reset:
        # several buckets come comma-separated ("1682376275, 1682376280"): wait for the latest
        waits = [_reset_wait(part, now) for part in reset.split(",")]
        known = [w for w in waits if w is not None]
        return max(known) if known else None
    return None


def _reset_wait(value: str, now: float) -> float | None:
    try:
        number = float(value.strip())
    except ValueError:
        return None
    # an epoch timestamp (Clever) or, on some servers, seconds until the reset
    return max(0.0, number - now) if number > 1_000_000_000 else max(0.0, number)


class HttpSession:
    """Sends requests through one client under one budget and one retry policy."""

    def __init__(
        self,
        client: httpx.Client,
        *,
        policy: RetryPolicy | None = None,
        budget: RequestBudget | None = None,
        sleep: Callable[[float], None] = pause,
        source_name: str = "the provider",
        deadline: float | None = None,
        retry_budget: float | None = None,
    ) -> None:
        self.client = client
        # a time.monotonic() value; None: only the policy bounds the time a request takes
        self.deadline = deadline
        self.retry_budget = retry_budget
        # seconds the finished requests of this session spent retrying
        self.retried_seconds = 0.0
        self.policy = policy or RetryPolicy()
        self.budget = budget
        self.stats = RequestStats()
        self._sleep = sleep
        self._source = source_name

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send with retries; returns any non-retriable response (the caller maps 4xx)."""
        # this request's waits, and the same plus its attempts after the first (the retry budget's count)
        waited = retried = 0.0
        attempt = 0
        try:
            while True:
                attempt += 1
                if self.budget is not None and not self.budget.acquire(self.deadline):
                    raise ProviderUnavailable(f"No time left to reach {self._source}: its request budget is waiting")
                self.stats.requests += 1
                started = time.monotonic()
                try:
                    response = self.client.request(method, url, **self._within_limits(kwargs, attempt, retried))
                except httpx.TransportError as exc:
                    retried += time.monotonic() - started if attempt > 1 else 0.0
                    self.stats.network_errors += 1
                    counters.source_request("network_error", run_field("tenant_id"))
                    if is_tls_verification_error(exc):
                        # an untrusted certificate does not get better with waiting: fail now
                        raise ProviderUnavailable(
                            f"Could not reach {self._source}: {_describe_transport(exc)}", retriable=False
                        ) from exc
                    delay = self._backoff(attempt)
                    note = self._give_up(attempt, waited, retried, delay)
                    if note is not None:
                        raise ProviderUnavailable(
                            f"Could not reach {self._source} after {attempt} attempts: {_describe_transport(exc)}{note}"
                        ) from exc
                    counters.source_retry("network_error", run_field("tenant_id"))
                    waited += self._wait(delay)
                    retried += delay
                    continue
                retried += time.monotonic() - started if attempt > 1 else 0.0
                status = response.status_code
                self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
                counters.source_request(_outcome(status), run_field("tenant_id"))
                if status not in RETRY_STATUSES:
                    return response
                if status == 429:
                    self.stats.rate_limited += 1
                    hinted = retry_after_seconds(response)
                    delay = (hinted + random.uniform(0, 0.25)) if hinted is not None else self._backoff(attempt)  # noqa: S311
                else:
                    self.stats.server_errors += 1
                    hinted = retry_after_seconds(response, rate_limit_reset=False)
                    delay = hinted if hinted is not None else self._backoff(attempt)
                response.close()
                note = self._give_up(attempt, waited, retried, delay)
                if note is not None:
                    if status == 429:
                        raise RateLimited(
                            f"{self._source} kept rate-limiting requests (HTTP 429) for {waited:.0f}s; "
                            f"giving up on this extract{note}"
                        )
                    raise ProviderUnavailable(
                        f"{self._source} answered HTTP {status} {attempt} times in a row; giving up{note}"
                    )
                if status == 429 and self.budget is not None and hinted is not None:
                    # only a wait this session takes itself holds the other workers too
                    self.budget.pause(hinted)
                counters.source_retry(_outcome(status), run_field("tenant_id"))
                waited += self._wait(delay)
                retried += delay
        finally:
            self.retried_seconds += retried

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def _give_up(self, attempt: int, waited: float, retried: float, delay: float) -> str | None:
        """None to retry after `delay`; else how the message ends ("" when the policy or deadline ends it)."""
        if self.retry_budget is not None and self.retried_seconds + retried + delay > self.retry_budget:
            return (
                f" (the retry budget of {self.retry_budget:g} s per request and extract step, "
                "SOURCE_RETRY_BUDGET_SECONDS, is spent)"
            )
        if attempt >= self.policy.max_attempts or waited + delay > self.policy.max_wait:
            return ""
        return "" if self.deadline is not None and time.monotonic() + delay >= self.deadline else None

    def _within_limits(self, kwargs: dict[str, Any], attempt: int, retried: float) -> dict[str, Any]:
        """The request's timeouts capped to the time left before the deadline and, for a retry, in the budget."""
        left: float | None = None
        if self.deadline is not None:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ProviderUnavailable(f"No time left to reach {self._source}") from httpx.TimeoutException(
                    "the deadline passed before the request was sent"
                )
        if self.retry_budget is not None and attempt > 1:
            budget_left = max(0.001, self.retry_budget - self.retried_seconds - retried)
            left = budget_left if left is None else min(left, budget_left)
        if left is None:
            return kwargs
        timeout = httpx.Timeout(kwargs["timeout"]) if "timeout" in kwargs else self.client.timeout

        def cap(value: float | None) -> float:
            return left if value is None else min(value, left)

        capped = httpx.Timeout(
            connect=cap(timeout.connect), read=cap(timeout.read), write=cap(timeout.write), pool=cap(timeout.pool)
        )
        return {**kwargs, "timeout": capped}

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.max_delay, self.policy.base_delay * (2 ** (attempt - 1)))
        return random.uniform(0, ceiling)  # noqa: S311 - jitter, not cryptography

    def _wait(self, delay: float) -> float:
        self.stats.retries += 1
        self.stats.waited_seconds += delay
        self._sleep(delay)
        return delay

    def close(self) -> None:
        self.client.close()


def _outcome(status: int) -> str:
    if status == 429:
        return "rate_limited"
    if status >= 500:
        return "server_error"
    return "client_error" if status >= 400 else "ok"


def is_tls_verification_error(exc: BaseException) -> bool:
    """A certificate the client does not trust (or that names another host), as opposed to a network failure."""
    text = str(exc).upper()
    return isinstance(exc, httpx.ConnectError) and ("CERTIFICATE" in text or "SSL" in text or "TLS" in text)


def _describe_transport(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return "connection timed out"
    if isinstance(exc, httpx.ReadTimeout):
        return "the server stopped answering (read timeout)"
    if isinstance(exc, httpx.ConnectError):
        text = str(exc)
        if "CERTIFICATE" in text.upper() or "SSL" in text.upper():
            return f"TLS handshake failed ({text})"
        return f"connection failed ({short_reason(text)})"
    # a protocol error quotes what the server sent (h11: "illegal status line: b'SSH-2.0-...'"): a short reason only
    return f"{type(exc).__name__}: {short_reason(str(exc))}"
