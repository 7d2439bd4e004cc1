"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models."""

from __future__ import annotations

import functools
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from services.api.endpoint import OPERATIONS, PATH_PARAMS, Operation
from services.api.problems import PROBLEM_JSON
from services.api.schemas import Problem

VERSION = "1.0.0"
_DESCRIPTIONS = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, malformed, expired or wrongly signed bearer token",
    403: "The token's role or tenant may not do this",
    404: "Not found (or not visible to this token)",
    409: "Conflict with the current state (the body says which, e.g. runId of the active run)",
    413: "Request body too large",
    415: "Request body is not JSON",
    422: "Invalid field (errors[] lists each one with its path)",
    429: "Rate limit exceeded (see Retry-After)",
    503: "A dependency is unavailable",
}

# routes that are not declared operations (no bearer token needed)
PUBLIC_PATHS: dict[str, dict[str, Any]] = {
    "/healthz": {"summary": "Liveness: the process is up", "operationId": "healthz"},
    "/readyz": {"summary": "Readiness: database and Redis answer", "operationId": "readyz", "extra": (503,)},
    "/openapi.json": {"summary": "This document", "operationId": "openapi"},
}


def _auto_errors(op: Operation) -> set[int]:
    codes = {401, 403, 429, 503, *op.errors}
    if "{" in op.path:
        codes.add(404)
    if op.query is not None:
        codes.add(422)
    if op.method in ("POST", "PATCH", "PUT"):
        codes |= {400, 413, 415}
        if op.body is not None:
            codes.add(422)
    return codes


def _parameters(op: Operation) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": PATH_PARAMS[name]}
        for name in re.findall(r"{(\w+)}", op.path)
    ]
    if op.query is not None:
        schema = op.query.model_json_schema(by_alias=True, mode="validation")
        required = set(schema.get("required", []))
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
            if "description" in prop:
                param["description"] = prop["description"]
            param["schema"] = {k: v for k, v in prop.items() if k not in ("title", "description")}
            params.append(param)
    return params


@functools.cache
def document() -> dict[str, Any]:
    entries: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    for op in OPERATIONS:
        if op.response is not None:
            entries.append((op.response, "serialization"))
        if op.body is not None:
            entries.append((op.body, "validation"))
    keyed, top = models_json_schema(list(dict.fromkeys(entries)), ref_template="#/components/schemas/{model}")
    problem_ref = keyed[(Problem, "serialization")]
    problem_response = {"content": {PROBLEM_JSON: {"schema": problem_ref}}}

    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        responses: dict[str, Any] = {}
        if op.response is not None:
            content: dict[str, Any] = {"application/json": {"schema": keyed[(op.response, "serialization")]}}
            content.update(op.extra_responses.get(op.status, {}))
            responses[str(op.status)] = {"description": op.summary, "content": content}
        for code in sorted(_auto_errors(op)):
            responses[str(code)] = {"description": _DESCRIPTIONS.get(code, "Error"), **problem_response}
        entry: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": _parameters(op),
            "responses": responses,
        }
        if op.description:
            entry["description"] = op.description
        if op.body is not None:
            entry["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": keyed[(op.body, "validation")]}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry

    for path, info in PUBLIC_PATHS.items():
        responses = {"200": {"description": info["summary"], "content": {"application/json": {"schema": {}}}}}
        for code in info.get("extra", ()):
            responses[str(code)] = {"description": _DESCRIPTIONS[code], "content": {"application/json": {"schema": {}}}}
        paths[path] = {
            "get": {
                "operationId": info["operationId"],
                "summary": info["summary"],
                "tags": ["service"],
                "security": [],
                "responses": responses,
            }
        }

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "sis-sync API",
            "version": VERSION,
            "description": "Roster sync from Student Information Systems. Bearer JWT (HS256) with roles "
            "DISTRICT_ADMIN (own tenant) or PLATFORM_ADMIN (all tenants). Errors are RFC 9457 problem JSON.",
        },
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": top.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
