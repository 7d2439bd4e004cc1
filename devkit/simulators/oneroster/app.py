"""The OneRoster 1.1 REST simulator: a Starlette app serving a generated district.

Behaves like the servers the connector meets: `/ims/oneroster/v1p1` collections with
limit/offset paging (limit clamped silently), `X-Total-Count`, an optional `Link` header,
`filter=dateLastModified>'...'`, OAuth 1.0a signatures verified and OAuth 2 tokens issued, and
switchable 429 / 5xx bursts. The `classlink` flavour adds ClassLink's habits: string booleans,
`x-count`, no `Link`, hrefs on the Roster Server's host, OAuth 1 only.

`/_sim/stats` counts what was served (records per collection, and those served under a
filter, which is how a test proves an incremental run fetched only the changes).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devkit.simulators.oneroster.auth import Credentials
from devkit.simulators.oneroster.faults import Faults
from devkit.simulators.oneroster.filters import FilterError, compare, parse_filter
from devkit.simulators.oneroster.roster import PATH, Flavour, Roster, Serializer
from devkit.simulators.oneroster.store import Collection, Store

AuthMode = Literal["oauth1", "oauth2", "any"]
# route name -> (collection, kind selected, or None for all); a page's envelope key is its collection's
_PLAIN: dict[str, tuple[str, frozenset[str] | None]] = {
    "orgs": ("orgs", None),
    "schools": ("orgs", frozenset({"school"})),
    "academicSessions": ("academicSessions", None),
    "terms": ("academicSessions", frozenset({"term", "semester"})),
    "gradingPeriods": ("academicSessions", frozenset({"gradingPeriod"})),
    "courses": ("courses", None),
    "classes": ("classes", None),
    "users": ("users", None),
    "students": ("users", frozenset({"student"})),
    "teachers": ("users", frozenset({"teacher"})),
    "enrollments": ("enrollments", None),
}
_FAULT_DESCRIPTIONS = {429: "too many requests", 503: "temporarily unavailable", 502: "bad gateway"}
_SINGULAR = {
    "orgs": "org",
    "academicSessions": "academicSession",
    "courses": "course",
    "classes": "class",
    "users": "user",
    "enrollments": "enrollment",
}


@dataclass
class SimulatorOptions:
    flavour: Flavour = "generic"
    client_id: str = "sis-sync"
    client_secret: str = "sis-sync-secret"  # noqa: S105 - the simulator's well-known demo secret
    auth: AuthMode = "any"
    max_limit: int = 1000
    link_header: bool = False
    # the district's Roster Server name, where ClassLink hrefs point
    tenant: str = "springfield-tx"
    # collections the credentials lack the scope for: 403 {"error": "insufficient_scope"}
    denied: frozenset[str] = frozenset()


@dataclass
class Stats:
    requests: int = 0
    rejected: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    pages: Counter[str] = field(default_factory=Counter)
    records: Counter[str] = field(default_factory=Counter)
    # records served to requests carrying a dateLastModified filter
    filtered_records: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "rejected": self.rejected,
            "byStatus": {str(k): v for k, v in sorted(self.by_status.items())},
            "pages": dict(self.pages),
            "records": dict(self.records),
            "filteredRecords": dict(self.filtered_records),
        }


def status_body(minor: str, description: str, severity: str = "error") -> dict[str, Any]:
    major = "failure" if severity == "error" else "success"
    entry = {
        "imsx_codeMajor": major,
        "imsx_severity": severity,
        "imsx_codeMinor": minor,
        "imsx_description": description,
    }
    return {"statusInfoSet": [entry]}


class Simulator:
    """One simulated OneRoster server; `app` is the ASGI application."""

    def __init__(self, roster: Roster, options: SimulatorOptions | None = None) -> None:
        self.options = options or SimulatorOptions()
        if self.options.flavour == "classlink":
            href_base = f"https://{self.options.tenant}-v2.rosterserver.com{PATH}"
        else:
            href_base = PATH
        self.store = Store(roster, Serializer(self.options.flavour, href_base))
        self.credentials = Credentials(self.options.client_id, self.options.client_secret)
        self.faults = Faults()
        self.stats = Stats()
        self._class_rosters: dict[str, list[tuple[str, str]]] | None = None
        self._class_rosters_of: Collection | None = None
        self.app = Starlette(
            routes=[
                Route(f"{PATH}/token", self._token, methods=["POST"]),
                Route(PATH + "/{path:path}", self._data, methods=["GET"]),
                Route("/_sim/stats", self._stats, methods=["GET"]),
                Route("/_sim/stats/reset", self._reset, methods=["POST"]),
                Route("/_sim/faults", self._faults, methods=["GET", "POST"]),
            ]
        )

    def provider_config(self, url: str) -> dict[str, Any]:
        """A ONEROSTER_API (or, classlink flavour, CLASSLINK) provider config for this simulator at `url`."""
        config = {"baseUrl": url + PATH, "clientId": self.options.client_id, "clientSecret": self.options.client_secret}
        if self.options.flavour == "classlink":
            config["tenantId"] = self.options.tenant
        return config

    # --- control ---------------------------------------------------------------------------

    def replace(self, roster: Roster) -> dict[str, dict[str, int]]:
        """Serve a changed district from now on (churn); returns what changed per collection."""
        return self.store.replace(roster)

    def reset_stats(self) -> None:
        self.stats = Stats()

    async def _stats(self, request: Request) -> Response:
        return JSONResponse(self.stats.as_dict())

    async def _reset(self, request: Request) -> Response:
        self.reset_stats()
        return JSONResponse(self.stats.as_dict())

    async def _faults(self, request: Request) -> Response:
        if request.method == "POST":
            try:
                self.faults.update(json.loads(await request.body() or b"{}"))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse(self.faults.as_dict())

    # --- auth ------------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        if self.options.flavour == "classlink" or self.options.auth == "oauth1":
            return JSONResponse(status_body("unknown object", "no token endpoint"), status_code=404)
        status, body = self.credentials.issue_token(request.headers.get("authorization", ""), await request.body())
        return JSONResponse(body, status_code=status, headers={"cache-control": "no-store"})

    def _refusal(self, request: Request) -> str | None:
        header = request.headers.get("authorization", "")
        oauth1_allowed = self.options.auth in ("oauth1", "any") or self.options.flavour == "classlink"
        oauth2_allowed = self.options.auth in ("oauth2", "any") and self.options.flavour != "classlink"
        if header.startswith("OAuth ") and oauth1_allowed:
            return self.credentials.verify_oauth1(request.method, str(request.url), header)
        if header.startswith("Bearer ") and oauth2_allowed:
            return self.credentials.verify_bearer(header)
        return "missing or unsupported Authorization"

    # --- data ------------------------------------------------------------------------------

    def _answer(self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        self.stats.by_status[status] += 1
        return JSONResponse(body, status_code=status, headers=headers)

    async def _data(self, request: Request) -> Response:
        self.stats.requests += 1
        refusal = self._refusal(request)
        if refusal is not None:
            self.stats.rejected += 1
            return self._answer(401, status_body("unauthorized", refusal))
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        fault = self.faults.next_fault()
        if fault is not None:
            # a 429 or 503 says when to come back; a 502 comes from a gateway that does not know
            retry = {"retry-after": str(self.faults.retry_after)} if fault != 502 else None
            return self._answer(fault, status_body("server_busy", _FAULT_DESCRIPTIONS[fault]), retry)
        parts = [p for p in request.path_params["path"].split("/") if p]
        if parts and parts[-1] in self.options.denied:
            # what an OAuth 2 resource server answers a token without the scope (RFC 6750 3.1)
            return self._answer(403, {"error": "insufficient_scope", "error_description": f"no scope for {parts[-1]}"})
        try:
            return self._route(request, parts)
        except FilterError as exc:
            return self._answer(400, status_body("invalid_filter_field", str(exc)))
        except LookupError as exc:
            return self._answer(404, status_body("unknown object", str(exc)))

    def _route(self, request: Request, parts: list[str]) -> Response:
        if len(parts) == 1 and parts[0] in _PLAIN:
            name, kinds = _PLAIN[parts[0]]
            return self._page(request, name, ("kind", kinds))
        if len(parts) == 3 and parts[0] == "schools" and parts[2] in ("enrollments", "classes", "courses"):
            orgs = self.store.collections["orgs"]
            if parts[1] not in orgs.index():
                raise LookupError(f"no school {parts[1]}")
            return self._page(request, parts[2], ("school", parts[1]))
        if len(parts) == 3 and parts[0] == "classes" and parts[2] in ("students", "teachers"):
            # ClassLink answers a class roster under the resource type's key: "users"
            return self._page(request, "users", ("class", parts[1], parts[2][:-1]))
        if len(parts) == 2 and parts[0] in _SINGULAR:
            collection = self.store.collections[parts[0]]
            i = collection.index().get(parts[1])
            if i is None:
                raise LookupError(f"no {_SINGULAR[parts[0]]} {parts[1]}")
            body = b'{"' + _SINGULAR[parts[0]].encode() + b'":' + collection.blobs[i] + b"}"
            self.stats.by_status[200] += 1
            return Response(body, media_type="application/json")
        raise LookupError(f"no such endpoint /{'/'.join(parts)}")

    def _view(self, collection: Collection, selector: tuple[Any, ...], filter_text: str | None) -> list[int] | None:
        predicates = parse_filter(filter_text) if filter_text else ()
        if selector[0] == "kind" and selector[1] is None and not predicates:
            return None
        key = (selector, predicates)
        cached = collection.views.get(key)
        if cached is not None:
            return cached
        indices: list[int] | range = range(len(collection.ids))
        if selector[0] == "kind" and selector[1] is not None:
            kinds = selector[1]
            indices = [i for i in indices if collection.kind[i] in kinds]
        elif selector[0] == "school":
            indices = collection.of_school(selector[1])
        elif selector[0] == "class":
            wanted = {user for user, role in self._class_roster(selector[1]) if role == selector[2]}
            indices = [i for i in indices if collection.ids[i] in wanted]
        for name, op, value in predicates:
            if name == "dateLastModified":
                modified = collection.modified
                indices = [i for i in indices if compare(modified[i], op, value)]
            else:
                deleted = collection.deleted
                indices = [i for i in indices if compare("tobedeleted" if deleted[i] else "active", op, value)]
        result = list(indices)
        collection.views[key] = result
        return result

    def _class_roster(self, class_id: str) -> list[tuple[str, str]]:
        enrollments = self.store.collections["enrollments"]
        if self._class_rosters is None or self._class_rosters_of is not enrollments:
            rosters: dict[str, list[tuple[str, str]]] = {}
            for blob, deleted in zip(enrollments.blobs, enrollments.deleted, strict=True):
                if deleted:
                    continue
                obj = json.loads(blob)
                rosters.setdefault(obj["class"]["sourcedId"], []).append((obj["user"]["sourcedId"], obj["role"]))
            self._class_rosters, self._class_rosters_of = rosters, enrollments
        if class_id not in self.store.collections["classes"].index():
            raise LookupError(f"no class {class_id}")
        return self._class_rosters.get(class_id, [])

    def _page(self, request: Request, name: str, selector: tuple[Any, ...]) -> Response:
        params = request.query_params
        try:
            limit = min(int(params.get("limit", "100")), self.options.max_limit)
            offset = int(params.get("offset", "0"))
        except ValueError:
            return self._answer(400, status_body("invalid_limit_field", "limit and offset must be integers"))
        if limit < 1 or offset < 0:
            return self._answer(400, status_body("invalid_limit_field", "limit must be positive, offset not negative"))
        if self.faults.grows_now(name):
            self.store.add_copy(name)
        collection = self.store.collections[name]
        filter_text = params.get("filter")
        view = self._view(collection, selector, filter_text)
        total = len(collection.ids) if view is None else len(view)
        chosen = range(offset, min(offset + limit, total)) if view is None else view[offset : offset + limit]
        blobs = collection.blobs
        parts = [b'{"', name.encode(), b'":[', b",".join([blobs[i] for i in chosen]), b"]"]
        sort = params.get("sort")
        if sort and sort != "sourcedId":
            warning = status_body("invalid_sort_field", f"cannot sort by {sort}; sorted by sourcedId", "warning")
            parts.append(b',"statusInfoSet":' + json.dumps(warning["statusInfoSet"]).encode())
        parts.append(b"}")
        headers = {"x-total-count": str(total)}
        if self.options.flavour == "classlink":
            headers["x-count"] = str(len(chosen))
        elif self.options.link_header:
            headers["link"] = self._links(request, limit, offset, total)
        self.stats.pages[name] += 1
        self.stats.records[name] += len(chosen)
        if filter_text:
            self.stats.filtered_records[name] += len(chosen)
        self.stats.by_status[200] += 1
        return Response(b"".join(parts), media_type="application/json", headers=headers)

    def _links(self, request: Request, limit: int, offset: int, total: int) -> str:
        def url(at: int) -> str:
            return str(request.url.include_query_params(limit=limit, offset=at))

        last = max(0, (total - 1) // limit * limit)
        links = [f'<{url(0)}>; rel="first"', f'<{url(last)}>; rel="last"']
        if offset + limit < total:
            links.append(f'<{url(offset + limit)}>; rel="next"')
        if offset > 0:
            links.append(f'<{url(max(0, offset - limit))}>; rel="prev"')
        return ", ".join(links)


__all__ = ["Simulator", "SimulatorOptions", "Stats", "status_body"]
