"""Editing a saved provider: its connection (the provider form in edit mode) and its sync options.

Both save with `PATCH /api/v1/providers/{id}`, and the connection test of edited settings is
`POST /api/v1/providers/{id}/test` with the edited config: secrets left blank are absent from
the body, so the API uses the stored ones (or, when the edit changes where they are sent, answers
422 naming them, and the form asks for them); no stored secret ever reaches the browser. With
JavaScript the answer replaces the changed parts of the page in place; without it the browser
is redirected, or the form comes back with its errors beside the fields.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from services.api.problems import ApiError, not_found
from services.api.schemas import ConnectionTestResult, Provider
from services.api.ui import forms, options
from services.api.ui.actions import provider_url
from services.api.ui.gateway import Gateway
from services.api.ui.pages import provider_page_response, type_form_of
from services.api.ui.render import fragment_html, render
from services.api.ui.web import done, field_errors, form_data, gateway, tested, ui_route, wants_json


async def _editable(gw: Gateway, provider_id: str) -> tuple[Provider, forms.TypeForm]:
    provider = await gw.model(Provider, "getProvider", providerId=provider_id)
    if provider.deleted_at is not None:
        raise not_found("provider")
    form = await type_form_of(gw, provider.provider_type.value)
    if form is None:
        raise ApiError(
            409, f"this build has no connector for {provider.provider_type.value}, so its settings cannot be edited"
        )
    return provider, form


@ui_route
async def edit_page(request: Request) -> Response:
    gw = gateway(request)
    provider, form = await _editable(gw, request.path_params["providerId"])
    return _edit_page(request, gw, forms.edit_context(form, provider))


def _edit_page(request: Request, gw: Gateway, context: dict[str, Any], *, status: int = 200) -> Response:
    return render(request, gw.services, "edit_provider.html", context, session=gw.session, status=status)


@ui_route
async def save_connection(request: Request) -> Response:
    gw = gateway(request)
    data = await form_data(request)
    provider_id = request.path_params["providerId"]
    provider, form = await _editable(gw, provider_id)
    try:
        config = forms.config_from_form(form, data)
        if data.get("action") == "test":
            result = await gw.model(
                ConnectionTestResult, "testProviderConnection", providerId=provider_id, body={"config": config}
            )
            if wants_json(request):
                return tested(result)
            return _edit_page(request, gw, _again(form, provider, data, test=result))
        body = {"name": data.get("name", "").strip(), "config": config}
        saved = await gw.model(Provider, "updateProvider", providerId=provider_id, body=body)
    except ApiError as exc:
        if wants_json(request) or exc.status != 422:
            raise
        return _edit_page(request, gw, _again(form, provider, data, errors=field_errors(exc)), status=422)
    message = f"Connection settings of “{saved.name}” saved."
    context = {"provider": saved, **forms.edit_context(form, saved), "in_dialog": True, "mode": "edit"}
    replace = {
        "#provider-settings": fragment_html(request, gw.services, "_settings.html", context),
        "#edit-provider-form": fragment_html(request, gw.services, "_provider_form.html", context),
    }
    url = provider_url(provider_id)
    title = f"{saved.name} · sis-sync"
    text = {"[data-provider-name]": saved.name}
    return done(request, message, to=url, next=url, replace=replace, text=text, title=title)


def _again(
    form: forms.TypeForm,
    provider: Provider,
    data: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    test: ConnectionTestResult | None = None,
) -> dict[str, Any]:
    """The edit form as submitted (without its secrets), for a browser without JavaScript."""
    values = {"name": data.get("name", ""), **forms.safe_values(form, data)}
    return forms.edit_context(form, provider, values=values, errors=errors, test=test)


@ui_route
async def save_options(request: Request) -> Response:
    gw = gateway(request)
    data = await form_data(request)
    provider_id = request.path_params["providerId"]
    provider = await gw.model(Provider, "getProvider", providerId=provider_id)
    try:
        body = {"options": options.body_from_form(data)}
        saved = await gw.model(Provider, "updateProvider", providerId=provider_id, body=body)
    except ApiError as exc:
        if wants_json(request) or exc.status != 422:
            raise
        extra = options.context(provider.options, data=data, errors=field_errors(exc))
        return await provider_page_response(request, gw, provider_id, extra=extra, status=422)
    context = {"provider": saved, **options.context(saved.options)}
    replace = {"#sync-options": fragment_html(request, gw.services, "_options.html", context)}
    return done(request, "Sync options saved.", to=provider_url(provider_id), replace=replace)
