"""What every UI route shares: the signed-in session, form bodies, and how errors are answered.

A route answers a browser navigation with a page (or a redirect with a flash message) and a
fetch() from ui.js with JSON, so every form works without JavaScript and better with it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from services.api.problems import ApiError
from services.api.schemas import ConnectionTestResult
from services.api.services import Services
from services.api.ui import render
from services.api.ui.gateway import Gateway
from services.api.ui.session import CSRF_FIELD, PREFIX, Session, check_csrf, current

Handler = Callable[[Request], Awaitable[Response]]


class LoginRequired(Exception):
    """No session, or its token expired or was revoked by a key change."""


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services.get()
    return services


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def gateway(request: Request) -> Gateway:
    services = services_of(request)
    session = current(request, services)
    if session is None:
        raise LoginRequired
    return Gateway(request, services, session)


async def form_data(request: Request, *, check: bool = True) -> dict[str, str]:
    """A url-encoded form body (size-limited), after the CSRF check."""
    services = services_of(request)
    limit = services.settings.api_max_body_bytes
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > limit:
            raise ApiError(413, f"the form is larger than {limit} bytes")
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if raw and media != "application/x-www-form-urlencoded":
        raise ApiError(415, "forms are sent as application/x-www-form-urlencoded")
    data: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True):
        data.setdefault(key, value)
    if check:
        check_csrf(request, services.jwt_secret, data.get(CSRF_FIELD))
    return data


def login_redirect(request: Request) -> Response:
    if wants_json(request):
        return JSONResponse(
            {"ok": False, "message": "Your session has ended; sign in again.", "login": f"{PREFIX}/login"},
            status_code=401,
        )
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"{PREFIX}/login?{urlencode({'next': target})}", status_code=303)


def ui_route(handler: Handler) -> Handler:
    """Signs out to the login page when the session is gone; renders API errors in words."""

    @functools.wraps(handler)
    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except LoginRequired:
            return login_redirect(request)
        except ApiError as exc:
            if exc.status == 401:
                return login_redirect(request)
            return error_response(request, exc)

    return run


def error_response(request: Request, exc: ApiError) -> Response:
    if wants_json(request):
        return JSONResponse(problem_body(exc), status_code=exc.status)
    return _error_page(request, exc)


def _error_page(request: Request, exc: ApiError) -> Response:
    services = services_of(request)
    session = current(request, services)
    return render.render(
        request,
        services,
        "error.html",
        {"status": exc.status, "title": problem_title(exc), "detail": exc.detail},
        session=session,
        status=exc.status,
    )


def problem_title(exc: ApiError) -> str:
    return {
        403: "Not allowed",
        404: "Not found",
        409: "Not possible right now",
        422: "Please check the form",
        429: "Too many requests",
    }.get(exc.status, "Something went wrong")


# the validation library's phrasing, said the way a form says it
_PLAIN = [
    (re.compile(r"^Input should be less than or equal to (\S+)$"), r"Must be at most \1."),
    (re.compile(r"^Input should be greater than or equal to (\S+)$"), r"Must be at least \1."),
    (re.compile(r"^Input should be less than (\S+)$"), r"Must be less than \1."),
    (re.compile(r"^Input should be greater than (\S+)$"), r"Must be more than \1."),
    (re.compile(r"^Input should be a valid integer.*$"), "Must be a whole number."),
    (re.compile(r"^Input should be a valid number.*$"), "Must be a number."),
    (re.compile(r"^Field required$"), "Required."),
    (re.compile(r"^String should have at most (\d+) characters?$"), r"At most \1 characters."),
    (re.compile(r"^String should have at least (\d+) characters?$"), r"At least \1 characters."),
    (re.compile(r"^Input should be (.+)$"), r"Must be \1."),
]


def plain(text: str) -> str:
    """A field message in the form's words ("Must be at most 65535.") instead of the validator's."""
    text = text.strip()
    for pattern, words in _PLAIN:
        if pattern.match(text):
            return pattern.sub(words, text)
    return sentence(text)


def problem_body(exc: ApiError) -> dict[str, Any]:
    fields = [e for e in exc.errors or [] if e.get("field")]
    message = sentence(exc.detail)
    if fields:
        message = "Please correct the highlighted field" + ("s." if len(fields) > 1 else ".")
    return {
        "ok": False,
        "status": exc.status,
        "message": message,
        "errors": [{"field": e.get("field", ""), "message": plain(e.get("detail", ""))} for e in exc.errors or []],
        **{k: v for k, v in exc.extra.items() if isinstance(v, str | int | float | bool)},
    }


def field_errors(exc: ApiError) -> dict[str, str]:
    """A 422's errors by the API's field path, for a form rendered again beside its inputs."""
    return {e.get("field", ""): plain(e.get("detail", "")) for e in exc.errors or []} or {"": exc.detail}


def sentence(text: str) -> str:
    """The text with a capital first letter, unless it starts with a field path (`sftp.host`),
    which is written as the API and the forms name it."""
    text = text.strip()
    first = text.split(" ", 1)[0]
    if "." in first.rstrip(".,:;") or "_" in first:
        return text
    return text[:1].upper() + text[1:] if text else text


def done(request: Request, message: str, *, to: str, **extra: Any) -> Response:
    """A finished action: JSON for fetch(), else a redirect that shows the message once."""
    if wants_json(request):
        return JSONResponse({"ok": True, "message": message, **extra})
    response = RedirectResponse(to, status_code=303)
    render.flash(response, message)
    return response


def tested(result: ConnectionTestResult) -> Response:
    """A connection test's answer to fetch(): the form shows it and enables saving."""
    return JSONResponse({"ok": True, "test": result.model_dump(mode="json"), "message": result.message})


def failed(request: Request, exc: ApiError, *, to: str) -> Response:
    if wants_json(request):
        return JSONResponse(problem_body(exc), status_code=exc.status)
    response = RedirectResponse(to, status_code=303)
    render.flash(response, sentence(exc.detail), "error")
    return response


def session_of(request: Request) -> Session | None:
    return current(request, services_of(request))
