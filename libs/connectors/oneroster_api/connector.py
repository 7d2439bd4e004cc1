"""Connector for any OneRoster 1.1 REST server (and, through a subclass, ClassLink).

Plan: schools, terms, classes, users, and enrollments either whole or one step per school
(`/schools/{id}/enrollments`) so several workers page a large district in parallel. Requests go
through the shared HTTP plumbing (one client, retries honouring Retry-After, a request budget
per credential shared through Redis); authentication is OAuth 1.0a signing or OAuth 2 tokens.

Incremental runs (the engine sets `context.mode`; the provider options `incremental` and
`fullSyncEveryDays` decide when) ask for objects modified since the cursor this connector
left after the last successful run: the server's clock (its Date header) when that run began,
less the config's `deltaOverlapSeconds` (default 60) for servers that stamp a change before committing it.
Deletes the server drops instead of marking `tobedeleted` are caught by the full runs.
"""

from __future__ import annotations

import email.utils
import math
import socket
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlsplit

import httpx

from libs.connectors.base import (
    ConnectionResult,
    Connector,
    ConnectorContext,
    Extraction,
    ExtractStep,
    ProviderConfig,
)
from libs.connectors.errors import (
    AuthError,
    ConnectorError,
    EgressRefused,
    NotFoundError,
    ProtocolError,
    ProviderUnavailable,
    RateLimited,
    short_reason,
)
from libs.connectors.http import HttpSession, RequestBudget, RetryPolicy, build_client
from libs.connectors.http.oauth import ClientCredentials, OAuth1Signer, Token, parse_token_response, token_request_data
from libs.connectors.http.retry import is_tls_verification_error
from libs.connectors.oneroster_api.config import OneRosterApiConfig
from libs.connectors.oneroster_api.extraction import COLLECTIONS, OneRosterExtraction
from libs.connectors.oneroster_api.paging import CollectionResult, check_response, read_collection
from libs.connectors.oneroster_api.settings import ApiSettings, from_oneroster_config
from libs.enums import EntityType, ProviderType, SyncMode

# a connection test should answer in seconds, not wait out a long outage
TEST_POLICY = RetryPolicy(max_attempts=2, max_wait=5.0, base_delay=0.2, max_delay=1.0)
# every request of a connection test (token included) ends by then, well inside the API's own
# budget for a test (CONNECTION_TEST_TIMEOUT_SECONDS, 30 s by default), so the admin reads what
# went wrong rather than "no answer"
TEST_DEADLINE_SECONDS = 20.0


class OneRosterApiConnector(Connector):
    provider_type: ClassVar[ProviderType] = ProviderType.ONEROSTER_API
    config_model: ClassVar[type[ProviderConfig]] = OneRosterApiConfig

    def __init__(self, config: ProviderConfig, context: ConnectorContext) -> None:
        super().__init__(config, context)
        self.settings = self.api_settings()
        self._credentials: ClientCredentials | None = None
        # set while test_connection runs: the token request then shares its policy and deadline
        self._test_deadline: float | None = None
        # the token endpoint's refusal: the same client id and secret are not offered again
        self._token_refusal: str | None = None
        auth: httpx.Auth
        if self.settings.auth == "oauth2":
            self._credentials = ClientCredentials(self._fetch_token)
            auth = self._credentials
        else:
            auth = OAuth1Signer(
                self.settings.client_id,
                self.settings.client_secret,
                signature_method=self.settings.signature_method,
            )
        self._client = build_client(
            transport=context.http_transport, egress=context.egress, auth=auth, deadline=context.deadline
        )
        self._budget = RequestBudget(
            context.redis,
            self.settings.budget_key,
            per_minute=self.settings.requests_per_minute,
            namespace=context.redis_namespace,
        )

    def api_settings(self) -> ApiSettings:
        assert isinstance(self.config, OneRosterApiConfig)
        return from_oneroster_config(self.config)

    def new_session(
        self, policy: RetryPolicy | None = None, *, deadline: float | None = None, source_name: str | None = None
    ) -> HttpSession:
        return HttpSession(
            self._client,
            policy=policy,
            budget=self._budget,
            source_name=source_name or self.settings.source_name,
            deadline=deadline,
            retry_budget=self.context.retry_budget_seconds,
        )

    def _fetch_token(self) -> Token:
        token_url = self.settings.token_url
        if self._token_refusal is not None:
            raise AuthError(self._token_refusal)
        testing = self._test_deadline is not None
        # a sync keeps the default policy for outages (5xx, 429, timeouts); a test answers now
        session = self.new_session(
            TEST_POLICY if testing else None,
            deadline=self._test_deadline,
            source_name=f"the OAuth 2 token endpoint {_host(token_url)}",
        )
        try:
            response = session.request(
                "POST",
                token_url,
                data=token_request_data(self.settings.scope),
                auth=httpx.BasicAuth(self.settings.client_id, self.settings.client_secret),
            )
        except (ProviderUnavailable, RateLimited) as exc:
            # lets a connection test tell an outage of the token endpoint from one of the data endpoint
            exc.details["tokenUrl"] = token_url
            raise
        try:
            return parse_token_response(response, token_url, now=time.monotonic(), secret=self.settings.client_secret)
        except AuthError as exc:
            # 400/401/403 answer the credentials themselves; asking again gets the same answer
            self._token_refusal = exc.message
            raise

    # --- connection test -------------------------------------------------------------------

    def test_connection(self) -> ConnectionResult:
        # the API's own deadline for the test when it is sooner
        self._test_deadline = min(time.monotonic() + TEST_DEADLINE_SECONDS, self.context.deadline or math.inf)
        try:
            return self._test_connection()
        finally:
            self._test_deadline = None

    def _test_connection(self) -> ConnectionResult:
        session = self.new_session(TEST_POLICY, deadline=self._test_deadline)
        host = _host(self.settings.base_url)
        details: dict[str, Any] = {"baseUrl": self.settings.base_url, "auth": self.settings.auth}
        source, base_url = self.settings.source_name, self.settings.base_url
        counts: dict[str, int | None] = {}
        try:
            # one page of every collection a sync reads: credentials without the scope for one
            # of them fail here, naming it, not in the middle of a sync
            for path, key in (*COLLECTIONS.values(), ("/courses", "courses")):
                response = session.get(f"{base_url}{path}?limit=1&offset=0")
                body = check_response(response, source=source, path=path, base_url=base_url)
                if not isinstance(body, Mapping) or not isinstance(body.get(key), list):
                    raise ProtocolError(f"{source} answered {path} without a '{key}' list")
                total = response.headers.get("x-total-count")
                counts[key] = int(total) if total and total.isdigit() else None
        except EgressRefused as exc:
            return ConnectionResult(False, exc.message, details)
        except AuthError as exc:
            return ConnectionResult(False, f"Credentials rejected: {exc.message}", details)
        except NotFoundError as exc:
            return ConnectionResult(False, f"Wrong base URL: {exc.message}", details)
        except ProtocolError as exc:
            return ConnectionResult(False, f"Not a OneRoster 1.1 API: {exc.message}", details)
        except RateLimited as exc:
            return ConnectionResult(False, f"Rate-limited: {exc.message}", details)
        except ProviderUnavailable as exc:
            if "tokenUrl" in exc.details:
                if _transport_cause(exc) is None:  # the token endpoint kept answering 5xx
                    return ConnectionResult(False, exc.message[:1].upper() + exc.message[1:], details)
                where = f"the OAuth 2 token endpoint {_host(self.settings.token_url)}"
                return ConnectionResult(False, _unreachable_message(exc, where, check="tokenUrl, "), details)
            return ConnectionResult(False, _unreachable_message(exc, host), details)
        details["orgs"] = counts.get("orgs")
        details["collections"] = counts
        return ConnectionResult(True, f"Connected to {self.settings.base_url} ({self._auth_label()})", details)

    def _auth_label(self) -> str:
        if self.settings.auth == "oauth2":
            return "OAuth 2 client credentials"
        return f"OAuth 1.0a {self.settings.signature_method}"

    # --- plan and extract ------------------------------------------------------------------

    def plan(self) -> list[ExtractStep]:
        steps = [
            ExtractStep("schools", (EntityType.SCHOOL,)),
            ExtractStep("terms", (EntityType.TERM,)),
            ExtractStep("classes", (EntityType.CLASS,)),
            ExtractStep("users", (EntityType.USER,)),
        ]
        schools = self._school_ids() if self._partition_enrollments() else []
        if schools:
            steps.extend(
                ExtractStep(f"enrollments:school:{sid}", (EntityType.ENROLLMENT,), {"school": sid}) for sid in schools
            )
        else:
            steps.append(ExtractStep("enrollments", (EntityType.ENROLLMENT,)))
        return steps

    def _partition_enrollments(self) -> bool:
        # a delta is small: one filtered request stream beats one empty page per school
        return self.settings.enrollment_partitions == "school" and self.delta_since() is None

    def _school_ids(self) -> list[str]:
        result = CollectionResult("/orgs")
        orgs = read_collection(
            self.new_session(),
            self.settings.base_url,
            "/orgs",
            "orgs",
            page_size=self.settings.page_size,
            source=self.settings.source_name,
            result=result,
        )
        ids = [str(o["sourcedId"]) for o in orgs if o.get("type") == "school" and o.get("sourcedId")]
        if result.incomplete:
            # partitions built from a partial school list would silently miss enrollments
            raise ProviderUnavailable("; ".join(result.incomplete) + "; cannot plan per-school enrollment steps")
        return ids

    def extract(self, step: ExtractStep) -> Extraction:
        return OneRosterExtraction(self, step, self.delta_since())

    def delta_since(self) -> str | None:
        """The `dateLastModified` lower bound of an incremental run, None for a full one."""
        if self.context.mode is not SyncMode.INCREMENTAL:
            return None
        last = _parse_time(self.context.cursor.get("lastModified"))
        if last is None:
            return None
        since = last - timedelta(seconds=self.settings.delta_overlap_seconds)
        return since.strftime("%Y-%m-%dT%H:%M:%SZ")

    def next_cursor(self, extractions: list[Mapping[str, Any]]) -> dict[str, Any]:
        starts = [_parse_time(s.get("serverDate")) or _parse_time(s.get("startedAt")) for s in extractions]
        known = [s for s in starts if s is not None]
        if not known:
            return {}
        return {"lastModified": min(known).strftime("%Y-%m-%dT%H:%M:%SZ")}

    def close(self) -> None:
        self._client.close()


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _host(url: str) -> str:
    """host[:port] of a URL, as an admin would recognise it from the config."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname


def _transport_cause(exc: BaseException) -> httpx.TransportError | None:
    cause = exc.__cause__
    for _ in range(8):
        if cause is None or isinstance(cause, httpx.TransportError):
            break
        cause = cause.__cause__
    return cause if isinstance(cause, httpx.TransportError) else None


# how resolvers word "no such host" when httpx's error carries no socket.gaierror
_RESOLVER_FAILURES = ("name or service not known", "name resolution", "nodename nor servname", "getaddrinfo")


def _network_cause(exc: httpx.TransportError) -> str:
    """What failed, in words, from the OS error under httpx's (resolver, TCP) or its text."""
    found: BaseException | None = exc
    for _ in range(8):  # httpx -> httpcore -> OSError; a chain is never deeper in practice
        if found is None:
            break
        if isinstance(found, ConnectionRefusedError):
            return "connection refused"
        if isinstance(found, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(found, ConnectionResetError):
            return "connection reset"
        found = found.__cause__ or found.__context__
    text = str(exc)
    lowered = text.lower()
    if "refused" in lowered:
        return "connection refused"
    if any(s in lowered for s in _RESOLVER_FAILURES):
        return "the host name does not resolve"
    return short_reason(text) or type(exc).__name__


def _unreachable_message(exc: ConnectorError, where: str, *, check: str = "") -> str:
    cause = _transport_cause(exc)
    if cause is not None and is_tls_verification_error(cause):
        return (
            f"TLS failure connecting to {where}: {cause}. The server's certificate is not trusted "
            "or not valid for this host name."
        )
    if isinstance(cause, httpx.TimeoutException):
        return (
            f"Network failure: {where} did not answer in time. Check {check}the host name, firewall and proxy settings."
        )
    if cause is not None:
        return (
            f"Network failure: could not connect to {where} ({_network_cause(cause)}). "
            f"Check {check}the host name, port, firewall and DNS."
        )
    return f"{where} is unavailable: {exc.message}"


__all__ = ["OneRosterApiConnector"]
