"""The District Admin UI at /integrations/sis: server-rendered pages over the API's operations."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from services.api.ui import actions, edits, pages, review, undo, webhooks
from services.api.ui.render import HERE, static_url
from services.api.ui.session import PREFIX
from services.api.ui.web import ui_route


def routes() -> list[BaseRoute]:
    def page(path: str, handler: object, methods: tuple[str, ...] = ("GET",)) -> Route:
        # pages are not API operations: they stay out of the OpenAPI document
        return Route(PREFIX + path, handler, methods=list(methods), include_in_schema=False)  # type: ignore[arg-type]

    post = ("POST",)
    return [
        page("", pages.index),
        page("/", pages.index),
        page("/login", pages.login_page),
        page("/login", pages.login_submit, post),
        page("/logout", ui_route(pages.logout), post),
        page("/rows", pages.rows_fragment),
        page("/fleet", pages.fleet_page),
        page("/schedule-preview", pages.preview_fragment),
        page("/providers/new", pages.new_provider_page),
        page("/providers/new", actions.create_provider, post),
        page("/providers/{providerId}", pages.provider_page),
        page("/providers/{providerId}/status", pages.status_fragment),
        page("/providers/{providerId}/history", pages.history_fragment),
        page("/providers/{providerId}/sync", actions.trigger_sync, post),
        page("/providers/{providerId}/cancel", actions.cancel_sync, post),
        page("/providers/{providerId}/schedule", actions.save_schedule, post),
        page("/providers/{providerId}/enabled", actions.set_enabled, post),
        page("/providers/{providerId}/delete", actions.delete_provider, post),
        page("/providers/{providerId}/edit", edits.edit_page),
        page("/providers/{providerId}/edit", edits.save_connection, post),
        page("/providers/{providerId}/options", edits.save_options, post),
        page("/runs/{runId}", pages.run_page),
        page("/webhooks", webhooks.webhooks_page),
        page("/webhooks", webhooks.create_webhook, post),
        page("/webhooks/{webhookId}", webhooks.webhook_page),
        *(page(f"/webhooks/{{webhookId}}/{action}", webhooks.webhook_action, post) for action in webhooks.ACTIONS),
        page("/runs/{runId}/errors.csv", pages.errors_csv),
        page("/runs/{runId}/errors", pages.errors_page),
        page("/runs/{runId}/review", review.review_page),
        page("/runs/{runId}/undo", undo.undo_run, post),
        page("/runs/{runId}/changes.csv", review.changes_csv),
        *(page(f"/runs/{{runId}}/{decision}", review.decide, post) for decision in ("approve", "reject")),
        Mount(PREFIX + "/static", app=StaticFiles(directory=HERE / "static"), name="ui-static"),
        # browsers ask for /favicon.ico where a page names no icon (a JSON answer, a download)
        Route("/favicon.ico", favicon, include_in_schema=False),
    ]


async def favicon(request: Request) -> Response:
    return RedirectResponse(static_url("favicon.svg"), status_code=301)
