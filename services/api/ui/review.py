"""A held run's review: the change list with filters, before and after, the download, and the
approve and reject forms (each confirms with the counts it would apply)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from libs.enums import LOAD_ORDER
from libs.etl.details import ACTIONS
from services.api.problems import ApiError
from services.api.schemas import ChangeList, Decided, Provider, RunDetail, RunSummary
from services.api.ui.render import render
from services.api.ui.session import PREFIX
from services.api.ui.web import done, failed, form_data, gateway, ui_route

PAGE = 50
ACTION_WORDS = {
    "create": "Create",
    "update": "Update",
    "reactivate": "Reactivate",
    "link": "Link to existing",
    "deactivate": "Deactivate",
}


def review_url(run_id: object) -> str:
    return f"{PREFIX}/runs/{run_id}/review"


def plan_rows(plan: dict[str, dict[str, int]]) -> list[tuple[str, dict[str, int], int]]:
    """(entity plural, counts per action, total) for each entity type the plan changes."""
    rows = []
    for entity in LOAD_ORDER:
        counts = plan.get(entity.plural) or {}
        total = sum(counts.get(a, 0) for a in ACTIONS)
        if total:
            rows.append((entity.plural, counts, total))
    return rows


def plan_words(plan: dict[str, dict[str, int]]) -> str:
    """The plan in one sentence, repeated by the confirmations."""
    totals = {a: sum((plan.get(e.plural) or {}).get(a, 0) for e in LOAD_ORDER) for a in ACTIONS}
    parts = [f"{totals[a]:,} {ACTION_WORDS[a].lower()}" for a in ACTIONS if totals[a]]
    return ", ".join(parts) if parts else "no changes"


def held_context(run: RunSummary | None) -> dict[str, Any]:
    """The provider page's held-run card: the newest run when it waits for review."""
    if run is None or run.status.value != "HELD":
        return {"held": None}
    return {"held": run, "held_rows": plan_rows(run.stats.plan), "held_words": plan_words(run.stats.plan)}


@ui_route
async def review_page(request: Request) -> Response:
    gw = gateway(request)
    run_id = request.path_params["runId"]
    run = await gw.model(RunDetail, "getRun", runId=run_id)
    provider = await gw.model(Provider, "getProvider", providerId=run.provider_id)
    params = request.query_params
    filters = {k: params[k] for k in ("entity", "action", "q") if params.get(k)}
    query: dict[str, Any] = {**filters, "limit": PAGE}
    if params.get("cursor"):
        query["cursor"] = params["cursor"]
    listing: ChangeList | None = None
    problem = None
    try:
        listing = await gw.model(ChangeList, "listChanges", runId=run_id, query=query)
    except ApiError as exc:
        if exc.status not in (409, 422):
            raise
        problem = exc.detail
    plan = listing.plan if listing is not None else run.stats.plan
    context = {
        "run": run,
        "provider": provider,
        "listing": listing,
        "problem": problem,
        "filters": filters,
        "request_cursor": params.get("cursor"),
        "entities": [e.value for e in LOAD_ORDER],
        "actions": ACTIONS,
        "action_words": ACTION_WORDS,
        "held": run if run.status.value == "HELD" else None,
        "held_rows": plan_rows(plan),
        "held_words": plan_words(plan),
        "csv_url": f"{PREFIX}/runs/{run.id}/changes.csv",
        "first_url": review_url(run.id),
    }
    return render(request, gw.services, "review.html", context, session=gw.session)


@ui_route
async def changes_csv(request: Request) -> Response:
    gw = gateway(request)
    result = await gw.call("listChanges", runId=request.path_params["runId"], query={"format": "csv"})
    if not isinstance(result, Response):
        raise TypeError("listChanges with format=csv answers a response")
    return result


@ui_route
async def decide(request: Request) -> Response:
    gw = gateway(request)
    await form_data(request)
    run_id = request.path_params["runId"]
    action = request.url.path.rsplit("/", 1)[-1]
    run = await gw.model(RunDetail, "getRun", runId=run_id)
    back = f"{PREFIX}/providers/{run.provider_id}"
    try:
        if action == "approve":
            result = await gw.model(Decided, "approveRun", runId=run_id)
            message = "Approved: the sync applies the reviewed changes now; progress shows below."
        else:
            result = await gw.model(Decided, "rejectRun", runId=run_id)
            message = "Rejected: nothing was written, and the run is cancelled."
    except ApiError as exc:
        if exc.status in (404, 401):
            raise
        return failed(request, exc, to=review_url(run_id))
    if not result.changed:
        message = "That decision was already taken."
    return done(request, message, to=back, redirect=back, runId=str(result.run_id))
