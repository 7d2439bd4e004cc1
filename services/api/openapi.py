"""The OpenAPI 3.1 document, generated from the declared operations and their pydantic models."""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from libs.connectors import registry
from libs.connectors.base import ProviderConfig
from libs.enums import ProviderType
from libs.providers import configs, masking
from services.api.endpoint import OPERATIONS, PATH_PARAMS, Operation
from services.api.problems import PROBLEM_JSON
from services.api.schemas import ConnectionTestSaved, ConnectionTestUnsaved, Problem, ProviderCreate, ProviderUpdate

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
            schema = {k: v for k, v in prop.items() if k not in ("title", "description")}
            # a query string has no null: an optional parameter is one that is left out
            options = [o for o in schema.pop("anyOf", []) if o.get("type") != "null"]
            schema = {**options[0], **schema} if len(options) == 1 else schema | ({"anyOf": options} if options else {})
            if "default" in schema and schema["default"] is None:
                del schema["default"]
            param["schema"] = schema
            params.append(param)
    return params


def document() -> dict[str, Any]:
    models = {t: model for t in registry.supported_types() if (model := configs.config_model(t)) is not None}
    return _document(tuple(models.items()))


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _config_schemas(defs: dict[str, Any], models: tuple[tuple[ProviderType, type[ProviderConfig]], ...]) -> None:
    """The config of each provider type, exactly: bodies that name a providerType are a oneOf
    discriminated on it; a changed config (PATCH, test with edits) is one of the per-type shapes
    with its secrets optional (absent, null or the mask keep the stored one)."""
    for body in (ProviderCreate, ConnectionTestUnsaved):
        base = defs.pop(body.__name__)
        mapping = {}
        for provider_type, model in models:
            name = f"{body.__name__}{provider_type.value.title().replace('_', '')}"
            branch = copy.deepcopy(base)
            branch["title"] = name
            branch["properties"]["providerType"] = {"const": provider_type.value}
            branch["properties"]["config"] = _ref(model.__name__)
            defs[name] = branch
            mapping[provider_type.value] = _ref(name)["$ref"]
        defs[body.__name__] = {
            "oneOf": [{"$ref": ref} for ref in mapping.values()],
            "discriminator": {"propertyName": "providerType", "mapping": mapping},
        }
    changed = []
    for _, model in models:
        name = f"{model.__name__}Change"
        defs[name] = _optional_secrets(defs, model.__name__, list(model.secret_fields))
        changed.append(_ref(name))
    for changing in (ProviderUpdate, ConnectionTestSaved):
        prop = defs[changing.__name__]["properties"]["config"]
        shape = {"oneOf": changed}
        if "anyOf" in prop:  # nullable
            prop["anyOf"] = [shape, {"type": "null"}]
        else:
            prop.pop("type", None)
            prop.pop("additionalProperties", None)
            prop.update(shape)


def _optional_secrets(defs: dict[str, Any], name: str, secrets: list[str]) -> dict[str, Any]:
    """Schema `name` with its secret fields (dotted paths) optional, nullable and flag-tolerant."""
    schema: dict[str, Any] = copy.deepcopy(defs[name])
    nested: dict[str, list[str]] = {}
    for path in secrets:
        head, _, rest = path.partition(".")
        if rest:
            nested.setdefault(head, []).append(rest)
            continue
        props = schema["properties"]
        # the mask sent back from a read keeps the stored secret, whatever the secret's own rule
        options = props[head]["anyOf"] if "anyOf" in props[head] else [props[head], {"type": "null"}]
        props[head] = {"anyOf": [*options, {"const": masking.MASK}]}
        props[masking.flag_name(head)] = {"description": "ignored (sent back from a read)"}
        schema["required"] = [r for r in schema.get("required", []) if r != head]
        # a rule that names a secret holds for the config after the stored secrets are filled in
        if f'"{head}"' in json.dumps(schema.get("anyOf")):
            del schema["anyOf"]
    for head, rests in nested.items():
        prop = schema["properties"][head]
        inner = next(o["$ref"] for o in prop.get("anyOf", [prop]) if "$ref" in o).rsplit("/", 1)[1]
        defs[f"{inner}Change"] = _optional_secrets(defs, inner, rests)
        schema["properties"][head] = {"anyOf": [_ref(f"{inner}Change"), {"type": "null"}]}
    schema["title"] = f"{name}Change"
    return schema


@functools.cache
def _document(models: tuple[tuple[ProviderType, type[ProviderConfig]], ...]) -> dict[str, Any]:
    entries: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Problem, "serialization")]
    entries += [(model, "validation") for _, model in models]
    for op in OPERATIONS:
        if op.response is not None:
            entries.append((op.response, "serialization"))
        if op.body is not None:
            entries.append((op.body, "validation"))
    keyed, top = models_json_schema(list(dict.fromkeys(entries)), ref_template="#/components/schemas/{model}")
    defs = top.get("$defs", {})
    _config_schemas(defs, models)
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
            "schemas": defs,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}},
        },
    }
