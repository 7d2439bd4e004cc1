"""Reading one OneRoster collection to its end, and knowing whether it really was the end.

Servers clamp `limit` silently, so a short page proves nothing. The loop asks with an explicit
sort (stable offsets), advances `offset` by what actually arrived, and stops when `offset`
reaches `X-Total-Count`; without a total, when the `Link` header has no `next`; without
either, on an empty page. The extract is reported incomplete (so nothing is deactivated) when
the total changes while paging, when the server stops before its own total, when the unique
records received do not add up to the total, or when a page repeats what was already read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
import orjson

from libs.connectors.errors import AuthError, NotFoundError, ProtocolError, short_reason
from libs.connectors.http import HttpSession


@dataclass
class CollectionResult:
    """What one collection read amounted to; final once its iterator is exhausted."""

    path: str
    pages: int = 0
    received: int = 0
    duplicates: int = 0
    total: int | None = None
    incomplete: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # the server's Date header on the first page: the clock incremental cursors are kept in
    server_date: str | None = None


def encode_query(params: Mapping[str, str | int]) -> str:
    # RFC 3986 encoding (space -> %20, ' -> %27): what OAuth 1 signs must be what is sent
    return "&".join(f"{quote(str(k), safe='')}={quote(str(v), safe='')}" for k, v in params.items())


def status_descriptions(body: Any) -> list[tuple[str, str]]:
    """(severity, text) of each statusInfoSet entry (1.1) or imsx_StatusInfo (1.2 servers)."""
    if not isinstance(body, Mapping):
        return []
    entries = body.get("statusInfoSet") or body.get("imsx_StatusInfo") or []
    if isinstance(entries, Mapping):
        entries = [entries]
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        severity = str(entry.get("imsx_severity") or entry.get("imsx_codeMajor") or "status")
        minor = entry.get("imsx_codeMinor")
        if isinstance(minor, Mapping):  # 1.2 nests the minor codes
            minor = ", ".join(
                str(m.get("imsx_codeMinorFieldValue"))
                for m in minor.get("imsx_codeMinorField") or []
                if isinstance(m, Mapping)
            )
        parts = [str(p) for p in (minor, entry.get("imsx_description")) if p]
        if parts:
            out.append((short_reason(severity, limit=20).lower(), short_reason(": ".join(parts))))
    return out


def _describe(response: httpx.Response) -> str:
    """The source's own reason: a OneRoster status description, or an OAuth 2 error code
    (`insufficient_scope`, RFC 6750) with its short description."""
    try:
        body = response.json()
    except ValueError:
        return ""
    found = status_descriptions(body)
    if found:
        return f": {found[0][1]}"
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        said = short_reason(str(body.get("error_description") or ""), limit=80)
        return f": {short_reason(body['error'], limit=40)}" + (f" ({said})" if said else "")
    return ""


def check_response(response: httpx.Response, *, source: str, path: str, base_url: str) -> Any:
    """The JSON body of a successful answer, or the typed error for an unsuccessful one."""
    status = response.status_code
    if status == 401:
        raise AuthError(
            f"{source} refused the credentials or the request signature (HTTP 401{_describe(response)}); "
            "check the client id and secret"
        )
    if status == 403:
        raise AuthError(f"{source} does not allow these credentials to read {path} (HTTP 403{_describe(response)})")
    if status == 404:
        raise NotFoundError(
            f"{source} has no {path} under {base_url} (HTTP 404); "
            "check the base URL, which usually ends in /ims/oneroster/v1p1"
        )
    if status != 200:
        raise ProtocolError(f"{source} answered HTTP {status} to {path}{_describe(response)}")
    try:
        # orjson: decoding is the largest share of what a 1000-object page costs the client
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        kind = short_reason(response.headers.get("content-type", "no content type").split(";")[0], limit=40)
        raise NotFoundError(
            f"{source} answered {path} with {kind}, not OneRoster JSON; check the base URL "
            f"({base_url}), which usually ends in /ims/oneroster/v1p1"
        ) from None


def _int_header(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name)
    if value is None:
        return None
    try:
        return int(value.strip())
    except ValueError:
        return None


def read_collection(
    session: HttpSession,
    base_url: str,
    path: str,
    key: str,
    *,
    page_size: int,
    source: str,
    params: Mapping[str, str] | None = None,
    result: CollectionResult,
) -> Iterator[dict[str, Any]]:
    """Yields each object of the collection once; `result` says what the read amounted to."""
    seen: set[str] = set()
    offset = 0
    first_total: int | None = None
    while True:
        query: dict[str, str | int] = {"limit": page_size, "offset": offset, "sort": "sourcedId", "orderBy": "asc"}
        query.update(params or {})
        response = session.get(f"{base_url}{path}?{encode_query(query)}")
        body = check_response(response, source=source, path=path, base_url=base_url)
        items = body.get(key) if isinstance(body, Mapping) else None
        if not isinstance(items, list):
            raise ProtocolError(f"{source} answered {path} without a {key!r} list; this is not a OneRoster collection")
        result.pages += 1
        if result.server_date is None:
            result.server_date = response.headers.get("date")
        for severity, text in status_descriptions(body):
            if severity != "status" and text not in result.warnings:
                result.warnings.append(text)
        total = _int_header(response, "x-total-count")
        if first_total is None:
            first_total = total
        elif total is not None and total != first_total and result.total != total:
            result.incomplete.append(
                f"{path}: the total changed from {first_total} to {total} while paging "
                "(records were added or removed during the extract)"
            )
        if total is not None:
            result.total = total
        page_count = _int_header(response, "x-count")
        if page_count is not None and page_count != len(items):
            result.incomplete.append(f"{path}: a page announced {page_count} records but held {len(items)}")
        fresh = 0
        for item in items:
            sid = item.get("sourcedId") if type(item) is dict else None
            if type(sid) is str:
                if sid in seen:
                    result.duplicates += 1
                    continue
                seen.add(sid)
            fresh += 1
            result.received += 1
            yield item
        offset += len(items)
        if items and not fresh:
            result.incomplete.append(f"{path}: offset {offset - len(items)} repeated records already read")
            break
        if total is not None:
            if offset >= total:
                break
            if not items:
                result.incomplete.append(f"{path}: the server stopped at {offset} of the {total} records it announced")
                break
        elif "link" in response.headers:
            if "next" not in response.links:
                break
        elif not items:
            break
    if result.total is not None and not result.incomplete and result.received != result.total:
        result.incomplete.append(
            f"{path}: the server announced {result.total} records but {result.received} distinct ones arrived"
        )


__all__ = ["CollectionResult", "check_response", "encode_query", "read_collection", "status_descriptions"]
