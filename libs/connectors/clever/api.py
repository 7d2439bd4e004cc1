"""Talking to Clever: the district token, paged lists that follow `next` links, typed errors.

Every request goes through the shared HttpSession (retries, 429 waits, the per-token budget in
Redis). Clever's quirks are handled here once: links are host-relative and already carry
/v3.0, error bodies may be HTML or empty, and a full page without a `next` link is checked by
asking for the continuation rather than taken as the end of the list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import orjson

from libs.connectors.base import ConnectorContext
from libs.connectors.clever.config import CleverConfig
from libs.connectors.errors import AuthError, ConnectorError, NotFoundError, ProtocolError, short_reason
from libs.connectors.http import HttpSession, RequestBudget, RetryPolicy, build_client, credential_key

API_PREFIX = "/v3.0"


@dataclass(slots=True)
class Page:
    number: int
    # for error reports and record provenance: "GET /v3.0/users?role=student page 3"
    ref: str
    items: list[dict[str, Any]]


class Listing:
    """The pages of one Clever list, in order; its counters are final once exhausted."""

    def __init__(self, api: CleverApi, path: str, params: dict[str, str]) -> None:
        self._api = api
        self.path = path
        self.params = params
        self.pages = 0
        self.items = 0
        # full pages that came without a `next` link although more data followed
        self.missing_next = 0
        # items whose id did not ascend: paging by starting_after may have skipped data
        self.out_of_order = 0

    @property
    def display(self) -> str:
        """The list as an admin reads it: path and filters, without the page size."""
        return API_PREFIX + self.path + _query_suffix({k: v for k, v in self.params.items() if k != "limit"})

    def __iter__(self) -> Iterator[Page]:
        limit = int(self.params["limit"])
        display = self.display
        url = self._api.url(API_PREFIX + self.path, self.params)
        visited: set[str] = set()
        last_id = ""
        probing = False
        while True:
            visited.add(url)
            body = self._api.get_json(url)
            raw_items = body.get("data")
            if not isinstance(raw_items, list):
                raise ProtocolError(f"Clever answered GET {display} without a data list")
            items = [_unwrap(item, display) for item in raw_items]
            self.pages += 1
            if probing and items:
                self.missing_next += 1
            kept = []
            for item in items:
                item_id = str(item.get("id") or "")
                if item_id and item_id <= last_id:
                    self.out_of_order += 1
                    continue
                last_id = item_id or last_id
                kept.append(item)
            self.items += len(kept)
            yield Page(self.pages, f"GET {display} page {self.pages}", kept)
            if not items:
                return  # an empty page ends a list even when it carries a next link
            next_uri = _link(body, "next")
            if next_uri is None:
                if len(items) < limit or not last_id:
                    return
                # a full page without `next`: only the continuation can tell whether it was the end
                probing = True
                url = self._api.url(API_PREFIX + self.path, {**self.params, "starting_after": last_id})
            else:
                probing = False
                url = self._api.join(next_uri)
            if url in visited:
                raise ProtocolError(f"Clever's next link for GET {display} points back to a page already read")


class CleverApi:
    def __init__(
        self,
        config: CleverConfig,
        context: ConnectorContext,
        *,
        policy: RetryPolicy | None = None,
        token: str | None = None,
    ) -> None:
        self.config = config
        self._context = context
        client = build_client(transport=context.http_transport, egress=context.egress, deadline=context.deadline)
        self.session = HttpSession(
            client,
            policy=policy or RetryPolicy(max_wait=config.max_retry_wait_seconds),
            source_name=f"Clever ({urlsplit(config.api_url).netloc})",
            deadline=context.deadline,
            retry_budget=context.retry_budget_seconds,
        )
        self._token: str | None = token or config.access_token
        self._budget_token: str | None = None

    # --- URLs -----------------------------------------------------------------------------

    def url(self, path: str, params: dict[str, str] | None = None) -> str:
        return self.config.api_url + path + _query_suffix(params or {})

    def join(self, uri: str) -> str:
        """A link from a response: host-relative (it already holds /v3.0), joined to the host."""
        parts = urlsplit(uri)
        if parts.scheme or parts.netloc:
            raise ProtocolError("Clever returned an absolute link where a host-relative one was expected")
        return self.config.api_url + (uri if uri.startswith("/") else "/" + uri)

    # --- requests ---------------------------------------------------------------------------

    def listing(self, path: str, params: dict[str, str] | None = None) -> Listing:
        # limit first, as Clever writes it in its own links
        return Listing(self, path, {"limit": str(self.config.page_size), **(params or {})})

    def get_json(self, url: str) -> dict[str, Any]:
        response = self._send(url)
        display = _display(url)
        if response.status_code != 200:
            raise _error(response, display)
        try:
            # orjson: a 10000-user page is ~7 MB, and decoding is most of what a page costs
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            raise ProtocolError(
                f"Clever answered GET {display} with {_kind(response)} instead of JSON (HTTP 200)"
            ) from None
        if not isinstance(body, dict):
            raise ProtocolError(f"Clever answered GET {display} with JSON that is not an object")
        return body

    def _send(self, url: str) -> httpx.Response:
        token = self.token()
        response = self.session.get(url, headers={"Authorization": f"Bearer {token}"})
        if response.status_code == 401 and self._can_refresh():
            # a rotated token: ask Clever for the district's current one, once
            response.close()
            self._token = None
            fresh = self.token()
            if fresh != token:
                response = self.session.get(url, headers={"Authorization": f"Bearer {fresh}"})
        return response

    def _can_refresh(self) -> bool:
        return bool(self.config.client_id and self.config.client_secret)

    # --- the district token ---------------------------------------------------------------

    @property
    def current_token(self) -> str | None:
        return self._token

    def token(self) -> str:
        if self._token is None:
            self._token = self._district_token()
        if self.session.budget is None or self._budget_token != self._token:
            self._budget_token = self._token
            self.session.budget = RequestBudget(
                self._context.redis,
                credential_key("clever", self._token),
                per_minute=self.config.requests_per_minute,
                namespace=self._context.redis_namespace,
            )
        return self._token

    def _district_token(self) -> str:
        config = self.config
        if not (config.client_id and config.client_secret):
            raise AuthError("Clever has no access token to use: set accessToken, or clientId and clientSecret")
        query = urlencode({"owner_type": "district", "district": config.district_id})
        url = f"{config.oauth_url}/oauth/tokens?{query}"
        response = self.session.get(url, auth=httpx.BasicAuth(config.client_id, config.client_secret))
        if response.status_code in (401, 403):
            raise AuthError(f"Clever rejected the client id and secret (HTTP {response.status_code})")
        if response.status_code != 200:
            raise _error(response, "/oauth/tokens")
        try:
            body = json.loads(response.content)
            tokens = body["data"]
        except (ValueError, KeyError, TypeError):
            raise ProtocolError(f"Clever answered /oauth/tokens with {_kind(response)}, not a token list") from None
        for entry in tokens if isinstance(tokens, list) else []:
            if not isinstance(entry, dict):
                continue
            owner = entry.get("owner") or {}
            if isinstance(owner, dict) and owner.get("id") == config.district_id and entry.get("access_token"):
                return str(entry["access_token"])
        raise NotFoundError(
            f"Clever has no token for district {config.district_id}: the district has not authorized this "
            "application, or the district id is wrong"
        )

    def close(self) -> None:
        self.session.close()


def _unwrap(item: Any, display: str) -> dict[str, Any]:
    data = item.get("data") if isinstance(item, dict) else None
    if not isinstance(data, dict):
        raise ProtocolError(f"Clever answered GET {display} with a list item that is not {{data: object}}")
    return data


def _link(body: dict[str, Any], rel: str) -> str | None:
    links = body.get("links")
    if not isinstance(links, list):
        return None
    for link in links:
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("uri"), str):
            return str(link["uri"])
    return None


def _query_suffix(params: dict[str, str]) -> str:
    return "?" + urlencode(params) if params else ""


def _display(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def _kind(response: httpx.Response) -> str:
    if not response.content.strip():
        return "an empty body"
    ctype = short_reason(response.headers.get("content-type", "").split(";")[0], limit=40)
    if "html" in ctype or response.content.lstrip()[:1] == b"<":
        return "an HTML page"
    return f"content of type {ctype or 'unknown'}"


def _json_message(response: httpx.Response) -> str | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    message = body.get("message") or body.get("error") if isinstance(body, dict) else None
    return (short_reason(str(message)) or None) if message else None


def _error(response: httpx.Response, display: str) -> ConnectorError:
    error = _error_for(response, display)
    error.details["status"] = response.status_code
    return error


def _error_for(response: httpx.Response, display: str) -> ConnectorError:
    status = response.status_code
    message = _json_message(response)
    detail = f": {message}" if message else ""
    if status in (401, 403):
        return AuthError(
            f"Clever refused the access token (HTTP {status}) for {display}: it is wrong, expired or revoked, "
            "or the district no longer shares data with this application"
        )
    if status == 404 and message is None:
        # Clever answers a token of the wrong type with an HTML "Cannot GET" page
        return AuthError(
            f"Clever answered {display} with {_kind(response)} (HTTP 404): the token is probably not a "
            "district-app token for this endpoint"
        )
    if status == 404:
        return NotFoundError(f"Clever says {display} does not exist (HTTP 404){detail}")
    if status == 413:
        return ProtocolError(f"Clever refused the page size for {display} (HTTP 413): pageSize must be at most 10000")
    return ProtocolError(f"Clever answered {display} with HTTP {status} ({_kind(response)}){detail}")
