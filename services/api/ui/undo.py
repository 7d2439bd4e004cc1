"""Undo a run from its page: the confirmation repeats what the undo would restore and the
conflicts it would keep (GET /api/v1/runs/{runId}/undo), the form starts the undo run."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from libs.enums import FINAL_STATUSES
from services.api.problems import ApiError
from services.api.schemas import RunDetail, UndoAccepted, UndoPreview
from services.api.ui.gateway import Gateway
from services.api.ui.session import PREFIX
from services.api.ui.web import done, failed, form_data, gateway, ui_route


def words(preview: UndoPreview) -> str:
    """What the undo would do, in one sentence (the confirmation repeats it)."""
    totals = {
        k: sum(getattr(c, k) for c in preview.entities.values()) for k in ("restored", "reactivated", "deactivated")
    }
    parts = [
        f"{totals['restored']:,} row(s) restored"
        + (f" ({totals['reactivated']:,} reactivated)" if totals["reactivated"] else ""),
        f"{totals['deactivated']:,} created row(s) deactivated",
    ]
    return ", ".join(parts)


async def context(gw: Gateway, run: RunDetail) -> dict[str, Any]:
    """The run page's undo card: the preview, or why the run cannot be undone."""
    if run.status not in FINAL_STATUSES:
        return {"undo": None, "undo_problem": None}
    try:
        preview = await gw.model(UndoPreview, "previewUndo", runId=run.id)
    except ApiError as exc:
        if exc.status != 409:
            raise
        return {"undo": None, "undo_problem": exc.detail}
    conflicts = sum(c.conflicts for c in preview.entities.values())
    return {"undo": preview, "undo_problem": None, "undo_words": words(preview), "undo_conflicts": conflicts}


@ui_route
async def undo_run(request: Request) -> Response:
    gw = gateway(request)
    form = await form_data(request)
    run_id = request.path_params["runId"]
    back = f"{PREFIX}/runs/{run_id}"
    force = form.get("force") == "on"
    try:
        accepted = await gw.model(UndoAccepted, "undoRun", runId=run_id, body={"force": force})
    except ApiError as exc:
        if exc.status in (404, 401):
            raise
        return failed(request, exc, to=back)
    to = f"{PREFIX}/runs/{accepted.run_id}"
    return done(
        request,
        "Undo started: it is a run of its own; progress shows below.",
        to=to,
        redirect=to,
        runId=str(accepted.run_id),
    )
