"""RFC 9457 problem details: every error the API returns is one of these.

A validation problem lists each bad field with its dotted path and JSON pointer. Pydantic's
`input` is never echoed: the input may be a credential.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from libs.providers.errors import ConfigUnreadable, InvalidProvider, ProviderError, SyncActive

PROBLEM_JSON = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def field_error(path: Sequence[str | int], message: str) -> dict[str, str]:
    parts = [str(p) for p in path]
    return {"field": ".".join(parts), "pointer": "#/" + "/".join(parts), "detail": message}


class ApiError(Exception):
    """Raised anywhere under a route; rendered as problem JSON."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code or _TITLES.get(status, "error").lower().replace(" ", "-")
        self.errors = errors
        self.headers = headers or {}
        self.extra = extra

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {
            "type": f"https://sis-sync.dev/problems/{self.code}",
            "title": _TITLES.get(self.status, "Error"),
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = self.errors
        body.update(self.extra)
        return JSONResponse(body, status_code=self.status, headers=self.headers, media_type=PROBLEM_JSON)


def not_found(what: str = "resource") -> ApiError:
    return ApiError(404, f"{what} not found")


def invalid(errors: list[dict[str, str]], detail: str | None = None) -> ApiError:
    first = errors[0]
    return ApiError(
        422, detail or f"{first['field'] or 'body'}: {first['detail']}", code="validation-error", errors=errors
    )


def from_validation(exc: ValidationError, *, prefix: Sequence[str | int] = ()) -> ApiError:
    return invalid([field_error([*prefix, *item["loc"]], _message(item)) for item in exc.errors(include_input=False)])


def from_error_list(items: Sequence[dict[str, Any]], *, prefix: Sequence[str | int] = ()) -> ApiError:
    """Pydantic error dicts carried by another layer (e.g. ConfigError.details)."""
    return invalid([field_error([*prefix, *item.get("loc", ())], _message(item)) for item in items])


def from_provider_error(exc: ProviderError) -> ApiError:
    """A refusal of the provider rules (libs.providers) as the API answers it."""
    if isinstance(exc, InvalidProvider):
        return from_error_list(exc.errors)
    if isinstance(exc, SyncActive):
        detail = "a sync of this provider is active; cancel it or wait for it to finish before deleting"
        return ApiError(409, detail, code="sync-active", runId=str(exc.run_id))
    if isinstance(exc, ConfigUnreadable):
        return ApiError(503, "the stored config of this provider cannot be decrypted with the configured keys")
    return not_found("provider")


def _message(item: Any) -> str:
    return str(item.get("msg", "invalid value")).removeprefix("Value error, ")
