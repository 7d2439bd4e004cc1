"""Declared operations: one declaration gives the Starlette route and its OpenAPI entry.

A handler is a plain function of a `Call` (the authenticated principal, the parsed path,
query and body) that returns a pydantic model (sent as JSON with the declared status) or a
Starlette response. Handlers do blocking database work, so they run in the thread pool.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from libs.auth import Principal
from libs.jsonbody import validate_strict
from libs.logs import run_context
from libs.providers.errors import ProviderError
from libs.text import CONTROL, CONTROL_MESSAGE
from services.api.problems import ApiError, field_error, from_provider_error, from_validation, invalid, not_found
from services.api.security import authenticate, token_key
from services.api.services import Services

log = logging.getLogger(__name__)

Handler = Callable[["Call"], "BaseModel | Response"]

# path parameters and how they are parsed; a malformed id is "not found", like a missing one
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "providerId": {"type": "string", "format": "uuid"},
    "runId": {"type": "string", "format": "uuid"},
    "webhookId": {"type": "string", "format": "uuid"},
    "tenantId": {"type": "string", "minLength": 1, "maxLength": 128, "pattern": r"^[A-Za-z0-9._:-]+$"},
}
_TENANT_RE = re.compile(PATH_PARAMS["tenantId"]["pattern"])
_ABSENT = object()  # an empty request body
# request bodies are a few levels deep; deeper nesting is refused before anything walks it
MAX_JSON_DEPTH = 32


@dataclass
class Call:
    request: Request
    principal: Principal
    services: Services
    path: dict[str, Any]
    query: Any
    body: Any
    token: str


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    response: type[BaseModel] | None
    status: int = 200
    body: type[BaseModel] | None = None
    body_required: bool = True
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = ()
    description: str = ""
    extra_responses: dict[int, dict[str, Any]] = field(default_factory=dict)
    rate_limited: bool = False


OPERATIONS: list[Operation] = []


def operation(
    method: str,
    path: str,
    *,
    summary: str,
    tag: str,
    response: type[BaseModel] | None,
    status: int = 200,
    body: type[BaseModel] | None = None,
    body_required: bool = True,
    query: type[BaseModel] | None = None,
    errors: tuple[int, ...] = (),
    description: str = "",
    extra_responses: dict[int, dict[str, Any]] | None = None,
    rate_limited: bool = False,
    operation_id: str | None = None,
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        OPERATIONS.append(
            Operation(
                method=method,
                path=path,
                handler=handler,
                operation_id=operation_id or _camel(handler.__name__),
                summary=summary,
                tag=tag,
                response=response,
                status=status,
                body=body,
                body_required=body_required,
                query=query,
                errors=errors,
                description=description or (handler.__doc__ or "").strip(),
                extra_responses=extra_responses or {},
                rate_limited=rate_limited,
            )
        )
        return handler

    return register


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


# path ids the handler's log lines carry (libs/logs.py)
_LOG_FIELDS = {"tenantId": "tenant_id", "providerId": "provider_id", "runId": "run_id"}


def _parse_path(params: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, raw in params.items():
        if name in ("providerId", "runId", "webhookId"):
            try:
                values[name] = uuid.UUID(str(raw))
            except ValueError:
                raise not_found(name.removesuffix("Id")) from None
        elif name == "tenantId":
            if not _TENANT_RE.fullmatch(str(raw)) or len(str(raw)) > 128:
                raise not_found("tenant")
            values[name] = str(raw)
        else:
            values[name] = raw
    return values


async def _read_json(request: Request, limit: int) -> Any:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise ApiError(413, f"request body is larger than {limit} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, f"request body is larger than {limit} bytes")
    if not raw.strip():
        return _ABSENT
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media and media != "application/json" and not media.endswith("+json"):
        raise ApiError(415, "request bodies must be application/json")
    try:
        # orjson also refuses what Python's json lets through: NaN, lone surrogates, nesting
        # past 1024 levels (a RecursionError there), integers past 64 bits
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ApiError(400, "request body is not valid JSON") from None
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise ApiError(400, f"request body is nested deeper than {MAX_JSON_DEPTH} levels")
    return body


def _deeper_than(value: Any, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def endpoint(op: Operation) -> Callable[[Request], Any]:
    async def run(request: Request) -> Response:
        services: Services = request.app.state.services.get()
        settings = services.settings
        try:
            principal = authenticate(request, services)
            raw = None
            if op.body is not None or op.method in ("POST", "PATCH", "PUT"):
                raw = await _read_json(request, settings.api_max_body_bytes)
                if raw is None and op.body is not None:
                    # JSON null is not the absent body an optional body may be
                    raise ApiError(422, "the request body must be a JSON object, not null", code="validation-error")
            result = await run_in_threadpool(
                invoke,
                op,
                request,
                principal,
                services,
                token_key(request),
                path=dict(request.path_params),
                query=dict(request.query_params),
                body=None if raw is _ABSENT else raw,
            )
        except ApiError as exc:
            return exc.response()
        if isinstance(result, Response):
            return result
        return JSONResponse(result.model_dump(mode="json", by_alias=True), status_code=op.status)

    return run


def find(operation_id: str) -> Operation:
    for op in OPERATIONS:
        if op.operation_id == operation_id:
            return op
    raise KeyError(operation_id)


def invoke(
    op: Operation,
    request: Request,
    principal: Principal,
    services: Services,
    token: str,
    *,
    path: dict[str, Any],
    query: dict[str, Any] | None = None,
    body: Any = None,
) -> BaseModel | Response:
    """Runs one operation for an authenticated caller (blocking; call it in a worker thread).

    The REST routes and the admin UI both come through here, so rate limits, parsing, tenant
    checks, validation, masking and the audit log are the same for both. `token` is the
    caller's rate-limit key (`token_key`). A refusal of the provider rules becomes its problem.
    """
    services.limiter.hit(f"req:{token}", services.settings.api_requests_per_minute)
    parsed_path = _parse_path(path)
    for name, value in (query or {}).items():
        # every query parameter, declared or not: nothing stored or searched may hold a NUL
        if CONTROL.search(name) or CONTROL.search(value):
            raise invalid([field_error(["query", name], CONTROL_MESSAGE)])
    parsed_query = _parse(op.query, dict(query or {}), prefix="query") if op.query else None
    parsed_body = None
    if op.body is not None:
        if body is None and op.body_required:
            raise ApiError(422, "a JSON request body is required", code="validation-error")
        parsed_body = _parse(op.body, body, prefix="body") if body is not None else None
    ids = {_LOG_FIELDS[name]: value for name, value in parsed_path.items() if name in _LOG_FIELDS}
    try:
        with run_context(**ids):
            return op.handler(Call(request, principal, services, parsed_path, parsed_query, parsed_body, token))
    except ProviderError as exc:
        raise from_provider_error(exc) from None


def _parse(model: type[BaseModel], raw: Any, *, prefix: str) -> BaseModel:
    if not isinstance(raw, dict):
        raise ApiError(422, f"the {prefix} must be a JSON object", code="validation-error")
    try:
        # a query string is text to convert; a body is JSON and must have the document's types
        return model.model_validate(raw) if prefix == "query" else validate_strict(model, raw)
    except ValidationError as exc:
        raise from_validation(exc, prefix=() if prefix == "body" else (prefix,)) from None


def routes() -> list[Route]:
    # ids are matched as UUIDs by the router, so /providers/test is no provider id: a method that
    # path lacks answers 405, not a 404 from the provider route
    return [
        Route(_UUID_PARAM.sub(r"{\1:uuid}", op.path), endpoint(op), methods=[op.method], name=op.operation_id)
        for op in OPERATIONS
    ]


_UUID_PARAM = re.compile(r"{(providerId|runId)}")
