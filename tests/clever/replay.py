"""A loopback server that answers with the real Clever responses recorded in the VCR cassettes.

Requests match a recording by path and query. `limit` and `role` are ignored in the match: the
recordings were made with Clever's default page size and without a role filter, and the
connector filters roles itself. A list continuation that was never recorded is answered the
way Clever answers a read past the end of a list (an empty page), so the recordings read as a
complete, small district; any other unrecorded request is a JSON 404.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

IGNORED_PARAMS = frozenset({"limit", "role"})
# headers that describe the recorded transfer, not the content
DROPPED_HEADERS = frozenset({"content-length", "transfer-encoding", "content-encoding", "connection", "date"})


@dataclass(frozen=True)
class Recording:
    status: int
    headers: dict[str, str]
    body: bytes
    authorization: str


def _key(path: str, query: str) -> tuple[str, frozenset[tuple[str, str]]]:
    return path, frozenset((k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k not in IGNORED_PARAMS)


def load_cassettes(folder: Path) -> dict[tuple[str, frozenset[tuple[str, str]]], list[Recording]]:
    index: dict[tuple[str, frozenset[tuple[str, str]]], list[Recording]] = {}
    for file in sorted(folder.rglob("*.yml")):
        for interaction in yaml.safe_load(file.read_text())["http_interactions"]:
            request, response = interaction["request"], interaction["response"]
            uri = request["uri"].split("://", 1)[1]
            path_query = uri[uri.index("/") :]
            path, _, query = path_query.partition("?")
            headers = {
                name.lower(): str(values[0])
                for name, values in (response.get("headers") or {}).items()
                if name.lower() not in DROPPED_HEADERS and values
            }
            auth = ((request.get("headers") or {}).get("Authorization") or [""])[0]
            body = response["body"]["string"].encode("utf-8")
            index.setdefault(_key(path, query), []).append(
                Recording(int(response["status"]["code"]), headers, body, auth)
            )
    return index


def recorded_objects(folder: Path, path: str) -> list[dict[str, Any]]:
    """The objects of every recorded page of one list (as the expectations of a test)."""
    seen: dict[str, dict[str, Any]] = {}
    for (recorded_path, _), recordings in load_cassettes(folder).items():
        if recorded_path != path:
            continue
        for recording in recordings:
            body = json.loads(recording.body)
            for item in body.get("data") or []:
                seen.setdefault(item["data"]["id"], item["data"])
    return [seen[k] for k in sorted(seen)]


def replay_app(folder: Path) -> Starlette:
    index = load_cassettes(folder)
    list_paths = {path for (path, _) in index if path.count("/") == 2}
    requests: list[str] = []

    async def answer(request: Request) -> Response:
        path, query = request.url.path, request.url.query
        requests.append(path + ("?" + query if query else ""))
        recordings = index.get(_key(path, query))
        if recordings:
            auth = request.headers.get("authorization", "")
            chosen = next((r for r in recordings if r.authorization == auth), recordings[0])
            return Response(chosen.body, status_code=chosen.status, headers=chosen.headers)
        if path.count("/") == 2 and (path in list_paths or path.startswith("/v3.0/")):
            self_uri = path + ("?" + query if query else "")
            body = {"data": [], "links": [{"rel": "self", "uri": self_uri}]}
            return Response(json.dumps(body), media_type="application/json")
        return Response(json.dumps({"message": "not recorded"}), status_code=404, media_type="application/json")

    app = Starlette(routes=[Route("/{path:path}", answer)])
    app.state.requests = requests
    return app
