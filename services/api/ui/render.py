"""Templates, the page context every page gets (user, CSRF token, flash), and flash messages."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from services.api.services import Services
from services.api.ui import forms, options, present
from services.api.ui.session import PREFIX, Session, csrf_token, ensure_nonce, new_nonce, nonce_of

HERE = Path(__file__).parent
FLASH_COOKIE = "sis_flash"


@cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["code_marks"] = code_marks
    env.globals.update(
        prefix=PREFIX,
        static=static_url,
        entities=present.ENTITIES,
        schedule_words=present.schedule_words,
        duration=present.duration,
        utc=present.utc_text,
        zoned=present.zoned_text,
        when=present.when,
        quiet_seconds=present.quiet_seconds,
        provider_state=present.provider_state,
        state_words=present.state_words,
        states=present.STATES,
        status_word=present.status_word,
        phase_words=present.phase_words,
        counts=present.entity_counts,
        source_rows=present.source_rows,
        type_title=lambda name: forms.TYPE_TITLES.get(name, (name, ""))[0],
        config_label=lambda key: forms.LABELS.get(key, forms.humanize(key)),
        option_fields=options.fields,
        options_words=options.words,
    )
    return env


def code_marks(text: str) -> Markup:
    """Hint text with `backticks` shown as code, the rest escaped."""
    parts = str(text).split("`")
    if len(parts) % 2 == 0:  # an unpaired backtick stays a character
        return Markup(escape(text))  # noqa: S704 - escaped just now
    return Markup("").join(
        Markup("<code>{}</code>").format(part) if i % 2 else escape(part) for i, part in enumerate(parts)
    )


@cache
def _asset_version(name: str) -> str:
    return hashlib.sha256((HERE / "static" / name).read_bytes()).hexdigest()[:10]


def static_url(name: str) -> str:
    # the content hash in the URL lets browsers cache assets for good and still see new versions
    return f"{PREFIX}/static/{name}?v={_asset_version(name)}"


def render(
    request: Request,
    services: Services,
    template: str,
    context: dict[str, Any],
    *,
    session: Session | None = None,
    status: int = 200,
) -> HTMLResponse:
    nonce = nonce_of(request) or new_nonce()
    flash = read_flash(request)
    html = (
        environment()
        .get_template(template)
        .render(
            request=request,
            session=session,
            principal=session.principal if session else None,
            csrf=csrf_token(services.jwt_secret, nonce),
            flash=flash,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    ensure_nonce(request, response, nonce)
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=PREFIX)
    return response


def fragment(template: str, context: dict[str, Any], *, headers: dict[str, str] | None = None) -> HTMLResponse:
    html = environment().get_template(template).render(**context)
    return HTMLResponse(html, headers={**SECURITY_HEADERS, **(headers or {})})


def fragment_html(request: Request, services: Services, template: str, context: dict[str, Any]) -> str:
    """A part of a page (with the session's CSRF token) that ui.js puts in place of the old one."""
    nonce = nonce_of(request) or ""
    return environment().get_template(template).render(csrf=csrf_token(services.jwt_secret, nonce), **context)


# Cache-Control: no-store and nosniff come from services/api/headers.py, as for every response
SECURITY_HEADERS = {
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
}


def flash(response: Response, text: str, kind: str = "success") -> None:
    value = quote(json.dumps({"text": text, "kind": kind}))
    response.set_cookie(FLASH_COOKIE, value, path=PREFIX, max_age=60, httponly=True, samesite="strict")


def read_flash(request: Request) -> dict[str, str] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        data = json.loads(unquote(raw))
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    return {"text": str(data.get("text", "")), "kind": str(data.get("kind", "success"))}
