"""Provider management: list, create, read, update, delete (the rules are in libs.providers)."""

from __future__ import annotations

import uuid
from typing import cast

from pydantic.alias_generators import to_camel
from sqlalchemy import Connection

from libs.enums import ProviderType
from libs.etl import schedule
from libs.etl.options import ProviderOptions
from libs.providers import configs, rules, store
from libs.providers.store import StoredProvider
from services.api.endpoint import Call, operation
from services.api.problems import field_error, invalid, not_found
from services.api.schemas import (
    DeleteQuery,
    Provider,
    ProviderCreate,
    ProviderDeleted,
    ProviderList,
    ProvidersQuery,
    ProviderUpdate,
)
from services.api.security import check_visible, require_platform_admin, require_tenant

TAG = "providers"


def provider_out(call: Call, row: StoredProvider) -> Provider:
    config = configs.config_of(call.services.cipher, row)
    return Provider(
        **{k: v for k, v in vars(row).items() if k not in ("config_ciphertext", "options")},
        config=configs.masked(ProviderType(row.provider_type), config),
        schedule_preset=schedule.preset_of(row.sync_schedule),
        options=ProviderOptions.from_stored(row.options),
    )


def load_visible(call: Call, conn: Connection, provider_id: uuid.UUID, *, lock: bool = False) -> StoredProvider:
    """The provider, or 404 when it does not exist or belongs to a tenant the caller cannot see."""
    row = store.get(conn, provider_id, lock=lock)
    check_visible(call.principal, row.tenant_id, deleted=row.deleted_at is not None, what="provider")
    return row


def load_active(call: Call, conn: Connection, provider_id: uuid.UUID, *, lock: bool = False) -> StoredProvider:
    row = load_visible(call, conn, provider_id, lock=lock)
    if row.deleted_at is not None:
        raise not_found("provider")
    return row


@operation(
    "GET",
    "/api/v1/tenants/{tenantId}/providers",
    summary="List the providers of a tenant",
    tag=TAG,
    response=ProviderList,
    query=ProvidersQuery,
    errors=(401, 403, 404),
)
def list_providers(call: Call) -> ProviderList:
    tenant_id = call.path["tenantId"]
    require_tenant(call.principal, tenant_id)
    query: ProvidersQuery = call.query
    if query.include_deleted:
        require_platform_admin(call.principal)
    with call.services.engine.connect() as conn:
        rows = store.of_tenant(conn, tenant_id, include_deleted=query.include_deleted)
    return ProviderList(providers=[provider_out(call, row) for row in rows])


@operation(
    "POST",
    "/api/v1/providers",
    summary="Create a provider",
    tag=TAG,
    response=Provider,
    status=201,
    body=ProviderCreate,
    errors=(400, 401, 403, 413, 415, 422),
)
def create_provider(call: Call) -> Provider:
    body: ProviderCreate = call.body
    require_tenant(call.principal, body.tenant_id)
    with call.services.engine.begin() as conn:
        # the fields of ProviderCreate are the keywords of rules.create
        row = rules.create(conn, call.services.cipher, call.principal, **dict(body))
        return provider_out(call, row)


@operation(
    "GET",
    "/api/v1/providers/{providerId}",
    summary="Read a provider (secrets masked)",
    tag=TAG,
    response=Provider,
    errors=(401, 403, 404),
)
def get_provider(call: Call) -> Provider:
    with call.services.engine.connect() as conn:
        return provider_out(call, load_visible(call, conn, call.path["providerId"]))


@operation(
    "PATCH",
    "/api/v1/providers/{providerId}",
    summary="Change a provider; absent fields (and absent secrets) keep their value",
    tag=TAG,
    response=Provider,
    body=ProviderUpdate,
    errors=(400, 401, 403, 404, 413, 415, 422),
)
def update_provider(call: Call) -> Provider:
    body: ProviderUpdate = call.body
    changes = body.model_dump(exclude_unset=True)
    for name in ("name", "enabled", "schedule_timezone", "options", "config"):
        if name in changes and changes[name] is None:
            raise invalid([field_error([to_camel(name)], "may not be null")])
    with call.services.engine.begin() as conn:
        row = load_active(call, conn, call.path["providerId"], lock=True)
        row = rules.update(conn, call.services.cipher, row, cast(rules.Changes, changes), call.principal)
        return provider_out(call, row)


@operation(
    "DELETE",
    "/api/v1/providers/{providerId}",
    summary="Delete a provider (refused while a sync is active)",
    tag=TAG,
    response=ProviderDeleted,
    query=DeleteQuery,
    errors=(401, 403, 404, 409),
)
def delete_provider(call: Call) -> ProviderDeleted:
    """The provider is soft-deleted, so its run history stays readable by platform admins.
    With deactivateEntities=true its links are deactivated, and every roster entity left
    without an active link is deactivated too; otherwise the roster is left as it is."""
    query: DeleteQuery = call.query
    with call.services.engine.begin() as conn:
        row = load_active(call, conn, call.path["providerId"], lock=True)
        counts = rules.delete(conn, row, call.principal, deactivate_entities=query.deactivate_entities)
    return ProviderDeleted(id=row.id, deleted=True, deactivated=counts)
