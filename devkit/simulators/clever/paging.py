"""Clever's range paging: ascending ids, `starting_after` / `ending_before`, self/prev/next links.

Links are host-relative with /v3.0, keep the request's filters with `limit` first (as Clever
writes them), and are absent where Clever leaves them out: no `prev` on a first page, no `next`
on a last one. A read past either end is an empty page, not an error.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

DEFAULT_LIMIT = 100
MAX_LIMIT = 10_000


class PagingError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class PageRequest:
    path: str  # "/v3.0/users"
    limit: int
    limit_given: bool
    starting_after: str | None
    ending_before: str | None
    # the other query parameters, in request order, repeated ones kept
    filters: tuple[tuple[str, str], ...]
    self_uri: str


def page_request(path: str, query: Sequence[tuple[str, str]], raw_query: str) -> PageRequest:
    params = dict(query)
    limit_text = params.get("limit")
    if limit_text is None or limit_text == "":
        limit, given = DEFAULT_LIMIT, False
    else:
        try:
            limit = int(limit_text)
        except ValueError:
            raise PagingError(400, f"limit must be an integer, got {limit_text!r}") from None
        if limit > MAX_LIMIT:
            raise PagingError(413, "Request entity too large: Your limit parameter may be over 10000")
        if limit < 1:
            raise PagingError(400, "limit must be at least 1")
        given = True
    filters = tuple((k, v) for k, v in query if k not in ("limit", "starting_after", "ending_before"))
    # Clever's events list links itself with a trailing "?" (recorded quirk)
    self_uri = path + "?" + raw_query if raw_query or path.endswith("/events") else path
    return PageRequest(
        path=path,
        limit=limit,
        limit_given=given,
        starting_after=params.get("starting_after") or None,
        ending_before=params.get("ending_before") or None,
        filters=filters,
        self_uri=self_uri,
    )


def _uri(request: PageRequest, cursor: tuple[str, str]) -> str:
    params: list[tuple[str, str]] = [("limit", str(request.limit))] if request.limit_given else []
    params.extend(request.filters)
    params.append(cursor)
    return request.path + "?" + urlencode(params)


def render(
    request: PageRequest,
    ids: Sequence[str],
    blobs: Mapping[str, bytes],
    drop_next: Callable[[], bool] = lambda: False,
) -> bytes:
    """The page's JSON body; `drop_next` is asked, for a page that has a next link, to leave it out."""
    if request.starting_after is not None:
        start = bisect.bisect_right(ids, request.starting_after)
        end = min(len(ids), start + request.limit)
    elif request.ending_before is not None:
        end = bisect.bisect_left(ids, request.ending_before)
        start = max(0, end - request.limit)
    else:
        start, end = 0, min(len(ids), request.limit)
    window = ids[start:end]
    links = [{"rel": "self", "uri": request.self_uri}]
    if window and (start > 0 or request.starting_after is not None):
        links.append({"rel": "prev", "uri": _uri(request, ("ending_before", window[0]))})
    if window and end < len(ids) and not drop_next():
        links.append({"rel": "next", "uri": _uri(request, ("starting_after", window[-1]))})
    return b'{"data":[' + b",".join(blobs[i] for i in window) + b'],"links":' + json.dumps(links).encode() + b"}"
