"""CSRF across the whole admin UI, without a browser: every POST form rendered by any UI page
carries the session's token, and every POST route of the app's routing table refuses a request
without a valid one and changes nothing. Routes and pages are read from the routing table, so a
route added later is checked without anyone listing it here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from sqlalchemy import Engine, text
from starlette.routing import Route
from starlette.testclient import TestClient

from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType
from libs.settings import Settings
from libs.webhooks import store
from services.api.ui.session import CSRF_FIELD, NONCE_COOKIE, PREFIX, SESSION_COOKIE
from tests.support.providers import create_provider
from tests.ui.conftest import LOGIN, TENANT_A, csrf_of, form_fields, sign_in

JSON = {"Accept": "application/json"}
PARAM = re.compile(r"\{(\w+)\}")


class _PostForms(HTMLParser):
    """Every <form method="post"> of a page: its action and the values of its hidden csrf inputs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[tuple[str, list[str]]] = []
        self._open: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._open = (a.get("action", ""), []) if a.get("method", "get").lower() == "post" else None
        elif tag == "input" and self._open is not None and a.get("name") == CSRF_FIELD:
            assert a.get("type") == "hidden", f"the CSRF field of the form to {self._open[0]} is not hidden"
            self._open[1].append(a.get("value", ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "form" and self._open is not None:
            self.forms.append(self._open)
            self._open = None


def post_forms(html: str) -> list[tuple[str, list[str]]]:
    reader = _PostForms()
    reader.feed(html)
    return reader.forms


def ui_routes(client: TestClient, method: str) -> list[str]:
    """The path templates of the UI's routes that answer `method`, from the app's routing table."""
    routes = client.app.routes  # type: ignore[attr-defined]
    return sorted(
        r.path for r in routes if isinstance(r, Route) and r.path.startswith(PREFIX) and method in (r.methods or ())
    )


def fill(template: str, values: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in values, f"{template}: no test value for the path parameter {name}"
        return values[name]

    return PARAM.sub(value, template)


def route_of(action: str, templates: list[str]) -> str | None:
    """The route template a form's action URL is answered by."""
    path = action.split("?")[0]
    for template in templates:
        pattern = "^" + PARAM.sub(r"[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, path):
            return template
    return None


def _snapshot(db: Engine) -> dict[str, list[str]]:
    """Every row of every table, so a refused request is seen to have changed nothing anywhere."""
    with db.connect() as conn:
        tables = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars().all()
        return {
            table: conn.execute(text(f'SELECT to_jsonb(t)::text AS row FROM "{table}" t ORDER BY 1')).scalars().all()
            for table in tables
        }


def _webhook(db: Engine, settings: Settings) -> str:
    with db.begin() as conn:
        row, _ = store.create(
            conn,
            config_cipher(settings),
            tenant_id=TENANT_A,
            url="http://127.0.0.1:9/",
            events=["run.failed"],
            enabled=True,
        )
    return str(row.id)


def _session(client: TestClient) -> tuple[str | None, str | None]:
    return client.cookies.get(SESSION_COOKIE), client.cookies.get(NONCE_COOKIE)


def _insert_run(db: Engine, provider_id: uuid.UUID, status: str) -> uuid.UUID:
    run_id = uuid.uuid4()
    finished = status not in ("PENDING", "IN_PROGRESS", "HELD")
    now = datetime.now(UTC)
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, started_at, "
                "completed_at, stats, held_at) VALUES (:r, :p, :t, :s, 'manual', true, :started, :completed, "
                "CAST(:stats AS jsonb), CASE WHEN :held THEN now() END)"
            ),
            {
                "r": run_id,
                "p": provider_id,
                "t": TENANT_A,
                "s": status,
                "held": status == "HELD",
                "started": now - timedelta(minutes=1) if finished else None,
                "completed": now if finished else None,
                "stats": '{"users": {"received": 2, "created": 2}}' if finished else "{}",
            },
        )
    return run_id


def _undoable_run(db: Engine, provider_id: uuid.UUID) -> uuid.UUID:
    """A finished run that changed something: one created user in its ledger."""
    run_id = _insert_run(db, provider_id, "SUCCESS")
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_change_ledger (run_id, target, entity_type, action, created) "
                "VALUES (:r, 'entity', 'user', 'create', ARRAY[CAST(:u AS text)])"
            ),
            {"r": run_id, "u": str(uuid.uuid4())},
        )
    return run_id


def test_every_post_form_on_every_ui_page_carries_the_sessions_csrf_token(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    provider_id = create_provider(
        db, ui_settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": "/x"}, tenant_id=TENANT_A
    )
    # a run held for review: its page, review page and download exist, and its forms decide it
    run_id = _insert_run(db, provider_id, "HELD")
    params = {"providerId": str(provider_id), "runId": str(run_id), "webhookId": _webhook(db, ui_settings)}
    post_routes = ui_routes(browser_client, "POST")
    csrf = sign_in(browser_client, mint())

    pages = {fill(t, params): browser_client.get(fill(t, params)) for t in ui_routes(browser_client, "GET")}
    # the states of a page that only other sessions or requests reach
    pages["error page"] = browser_client.get(f"{PREFIX}/providers/{uuid.uuid4()}")
    pages["a run that can be undone"] = browser_client.get(f"{PREFIX}/runs/{_undoable_run(db, provider_id)}")
    platform = TestClient(browser_client.app, base_url="https://testserver", follow_redirects=False)
    platform_csrf = sign_in(platform, mint("PLATFORM_ADMIN", None, sub="ops"))
    pages["tenant picker"] = picker = platform.get(PREFIX)
    assert "Choose a tenant" in picker.text
    # the fleet page is a platform admin's: a district admin's session gets the 403 page
    pages[f"{PREFIX}/fleet"] = platform.get(f"{PREFIX}/fleet")
    assert browser_client.get(f"{PREFIX}/fleet").status_code == 403

    reached: set[str] = set()
    for name, response in pages.items():
        if not response.headers.get("content-type", "").startswith("text/html"):
            continue
        assert response.status_code in (200, 404), f"{name}: {response.status_code}"
        expected = platform_csrf if name in ("tenant picker", f"{PREFIX}/fleet") else csrf
        for action, tokens in post_forms(response.text):
            assert tokens == [expected], f"{name}: the form to {action} carries {tokens}, not the session's token"
            route = route_of(action, post_routes)
            assert route is not None, f"{name}: the form posts to {action}, which no UI route answers"
            reached.add(route)
    # the pages above are every page there is, so between them they show a form for every POST route
    assert reached == set(post_routes), f"no rendered form posts to {set(post_routes) - reached}"


def test_every_ui_post_route_refuses_a_request_without_a_valid_csrf_token_and_changes_nothing(
    browser_client: TestClient, mint: Callable[..., str], db: Engine, ui_settings: Settings
) -> None:
    post_routes = ui_routes(browser_client, "POST")
    assert f"{PREFIX}/providers/{{providerId}}/delete" in post_routes  # the table is the app's, not empty

    def provider(name: str) -> uuid.UUID:
        return create_provider(
            db,
            ui_settings,
            provider_type=ProviderType.ONEROSTER_CSV,
            config={"localPath": "/srv/exports"},
            tenant_id=TENANT_A,
            name=name,
        )

    # each route acts on a provider of its own, so that what one valid request does (a delete, a
    # started run) cannot be what makes another one change something or nothing
    providers = {template: provider(f"Provider for {template}") for template in post_routes}
    webhooks = {template: _webhook(db, ui_settings) for template in post_routes}
    _insert_run(db, providers[f"{PREFIX}/providers/{{providerId}}/cancel"], "PENDING")
    # the routes that decide a run held for review each get a held run of their own; the undo
    # route a finished run that changed something (one created user in its ledger)
    runs = {template: str(_insert_run(db, providers[template], "HELD")) for template in post_routes}
    undone = f"{PREFIX}/runs/{{runId}}/undo"
    runs[undone] = str(_undoable_run(db, providers[undone]))
    stale = csrf_of(browser_client.get(LOGIN).text)  # this browser's token from before it signed in
    csrf = sign_in(browser_client, mint())
    other_browser = TestClient(browser_client.app, base_url="https://testserver", follow_redirects=False)
    foreign = csrf_of(other_browser.get(LOGIN).text)  # valid, but for another browser's nonce
    assert len({stale, csrf, foreign}) == 3

    def edit_body(provider_id: uuid.UUID) -> dict[str, str]:
        form = form_fields(browser_client.get(f"{PREFIX}/providers/{provider_id}/edit").text, "edit-provider-form")
        return {**form, "name": "Renamed", "action": "save"}

    def options_body(provider_id: uuid.UUID) -> dict[str, str]:
        form = form_fields(browser_client.get(f"{PREFIX}/providers/{provider_id}").text, "sync-options")
        return {**form, "deactivationThresholdPercent": "35"}

    # a request each route would carry out: the refusal, not the body, is why nothing changes
    bodies: dict[str, Callable[[uuid.UUID], dict[str, str]]] = {
        "/login": lambda _: {"token": mint(sub="someone-else"), "next": PREFIX},
        "/logout": lambda _: {},
        "/providers/new": lambda _: {
            "tenantId": TENANT_A,
            "providerType": "ONEROSTER_CSV",
            "name": "Added",
            "ONEROSTER_CSV:source": "local",
            "ONEROSTER_CSV:config.localPath": "/srv/added",
            "schedule": "daily",
            "scheduleTimezone": "UTC",
            "enabled": "true",
            "action": "save",
        },
        "/providers/{providerId}/sync": lambda _: {},
        "/providers/{providerId}/cancel": lambda _: {},
        "/providers/{providerId}/schedule": lambda _: {"schedule": "weekdays", "scheduleTimezone": "America/Chicago"},
        "/providers/{providerId}/enabled": lambda _: {"enabled": "false"},
        "/providers/{providerId}/delete": lambda _: {"confirm": "yes", "deactivateEntities": "true"},
        "/providers/{providerId}/edit": edit_body,
        "/providers/{providerId}/options": options_body,
        "/webhooks": lambda _: {"tenant": TENANT_A, "url": "https://127.0.0.1/new", "event.run.failed": "true"},
        "/webhooks/{webhookId}/enabled": lambda _: {"enabled": "false"},
        "/webhooks/{webhookId}/test": lambda _: {},
        "/webhooks/{webhookId}/delete": lambda _: {},
        "/runs/{runId}/approve": lambda _: {},
        "/runs/{runId}/reject": lambda _: {},
        "/runs/{runId}/undo": lambda _: {},
    }

    def request(template: str) -> tuple[str, dict[str, str]]:
        provider_id = providers[template]
        recipe = bodies.get(template.removeprefix(PREFIX), lambda _: {})
        body = {k: v for k, v in recipe(provider_id).items() if k != CSRF_FIELD}
        return fill(
            template, {"providerId": str(provider_id), "webhookId": webhooks[template], "runId": runs[template]}
        ), body

    requests = {template: request(template) for template in post_routes}
    attempts: list[tuple[str, dict[str, str], dict[str, str]]] = [
        ("no token, from fetch()", JSON, {}),
        ("a stale token in the form, from a browser without JavaScript", {}, {CSRF_FIELD: stale}),
        ("another browser's token in the header, from fetch()", {**JSON, "X-CSRF-Token": foreign}, {}),
        ("a forged token in the header beside none in the form", {**JSON, "X-CSRF-Token": "0" * 64}, {}),
    ]
    before = _snapshot(db), _session(browser_client)
    for template, (url, body) in requests.items():
        for what, headers, extra in attempts:
            response = browser_client.post(url, data={**body, **extra}, headers=headers)
            assert response.status_code == 403, f"POST {template} with {what}: {response.status_code}"
            cookies = response.headers.get_list("set-cookie")
            touched = [c for c in cookies if c.startswith((f"{SESSION_COOKIE}=", f"{NONCE_COOKIE}="))]
            assert not touched, f"POST {template} with {what} touched the session cookies: {touched}"
            assert (_snapshot(db), _session(browser_client)) == before, f"POST {template} with {what} changed state"
    assert browser_client.get(PREFIX).status_code == 200  # still signed in

    # the same requests with the session's token are carried out: each changes something. The
    # sign-in and sign-out go last, as they replace the session the others use
    unknown = [t for t in post_routes if t.removeprefix(PREFIX) not in bodies]
    assert not unknown, f"say above what a valid request to {unknown} is, so its CSRF refusal means something"
    last = {f"{PREFIX}/login": 1, f"{PREFIX}/logout": 2}
    for template in sorted(post_routes, key=lambda t: (last.get(t, 0), t)):
        url, body = requests[template]
        state = _snapshot(db), _session(browser_client)
        response = browser_client.post(url, data={**body, CSRF_FIELD: csrf}, headers=JSON)
        assert response.status_code in (200, 303), f"POST {template} with the token: {response.text}"
        assert (_snapshot(db), _session(browser_client)) != state, f"POST {template} with the token changed nothing"
        if template.endswith("/login"):
            csrf = csrf_of(browser_client.get(PREFIX).text)  # signing in starts a fresh nonce
    assert SESSION_COOKIE not in browser_client.cookies  # the last one signed out
