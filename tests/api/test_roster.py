"""Roster reads over HTTP on a store filled by real syncs: every kind pages, filters and stays in its tenant."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.connectors import records as r
from libs.enums import LOAD_ORDER
from tests.api.conftest import TENANT_A, TENANT_B
from tests.etl.conftest import Driver, ctx, driver, make_provider, memory_connector
from tests.etl.district import SmallDistrict

# the in-process engine driver and its in-memory connector, as the engine tests use them
__all__ = ["ctx", "driver", "make_provider", "memory_connector"]

KINDS = tuple(e.plural for e in LOAD_ORDER)
ENTITY_TYPES = {e.plural: e.value for e in LOAD_ORDER}

# one row of each kind that the first sync delivers and the second no longer does
LEAVERS: list[r.Record] = [
    r.School(external_id="sch-closed", name="Closed Academy"),
    r.Term(
        external_id="summer",
        name="Summer",
        type="term",
        start_date=date(2026, 6, 20),
        end_date=date(2026, 8, 10),
        school_year="2026",
    ),
    r.Class(external_id="cls-old", school_external_id="sch-0", title="Retired Elective", term_external_ids=("fall",)),
    r.User(
        external_id="stu-left",
        role="student",
        given_name="Quentin",
        family_name="Gone",
        email="quentin@example.org",
        school_external_ids=("sch-0",),
        primary_school_external_id="sch-0",
    ),
    r.Enrollment(external_id="enr-left", class_external_id="cls-old", user_external_id="stu-left", role="aide"),
]

# per kind: a `q`, and the ids (from sis_entity_links) of the rows it must find
SEARCHES: dict[str, tuple[str, set[str]]] = {
    "schools": ("SCHOOL 1", {"sch-1"}),  # case-insensitive name; "School 0" and the numbers do not match
    "terms": ("fal", {"fall"}),
    "classes": ("class 3", {"cls-3"}),
    "users": ("Teacher2@", {"tch-2"}),  # the email
    "enrollments": ("TEACH", {f"enr-t{i}" for i in range(4)}),  # the role
}


@dataclass
class Store:
    """What two syncs left in the store: entity ids by kind, for the tenant under test."""

    ids: dict[str, set[str]]
    deactivated: dict[str, set[str]]
    by_external_id: dict[str, dict[str, str]]


def _sync_twice(
    driver: Driver, make_provider: Callable[..., tuple[uuid.UUID, Any]], tenant_id: str, db: Engine
) -> Store:
    district = SmallDistrict(students=6)
    provider_id, dataset = make_provider([*district.records(), *LEAVERS], tenant_id=tenant_id)
    driver.sync(provider_id)
    # a full feed without the leavers deactivates them (and nothing else)
    for record in LEAVERS:
        dataset.items[record.entity_type].remove(record)
    driver.sync(provider_id)
    ids: dict[str, set[str]] = {}
    deactivated: dict[str, set[str]] = {}
    by_external_id: dict[str, dict[str, str]] = {}
    with db.connect() as conn:
        statuses = conn.execute(
            text("SELECT status FROM sis_sync_runs WHERE provider_id = :p ORDER BY requested_at"), {"p": provider_id}
        ).scalars()
        assert list(statuses) == ["SUCCESS", "SUCCESS"]
        for kind in KINDS:
            rows = conn.execute(
                text(f"SELECT id::text, active FROM {kind} WHERE tenant_id = :t"), {"t": tenant_id}
            ).all()
            ids[kind] = {row.id for row in rows}
            deactivated[kind] = {row.id for row in rows if not row.active}
            links = conn.execute(
                text(
                    "SELECT external_id, entity_id::text FROM sis_entity_links "
                    "WHERE provider_id = :p AND entity_type = :e"
                ),
                {"p": provider_id, "e": ENTITY_TYPES[kind]},
            ).all()
            by_external_id[kind] = {link.external_id: link.entity_id for link in links}
    return Store(ids, deactivated, by_external_id)


@pytest.fixture
def synced(
    connectors: None,
    db: Engine,
    driver: Driver,
    make_provider: Callable[..., tuple[uuid.UUID, Any]],
) -> dict[str, Store]:
    # `connectors` first: the memory connector must be registered on top of the API's stand-ins
    return {tenant: _sync_twice(driver, make_provider, tenant, db) for tenant in (TENANT_A, TENANT_B)}


def _page_through(client: TestClient, url: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = client.get(url, params=query, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= params.get("limit", 100)
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items
        assert page["items"], "a page with a next cursor has items"
    raise AssertionError("the cursor never ran out")


@pytest.mark.parametrize("kind", KINDS)
def test_every_roster_kind_pages_filters_and_stays_in_its_tenant(
    client: TestClient,
    admin_a: dict[str, str],
    platform: dict[str, str],
    synced: dict[str, Store],
    kind: str,
) -> None:
    mine, theirs = synced[TENANT_A], synced[TENANT_B]
    assert mine.ids[kind]
    assert theirs.ids[kind]
    assert len(mine.deactivated[kind]) == 1  # the leaver, and only it
    url = f"/api/v1/tenants/{TENANT_A}/roster/{kind}"

    # limit 2: every kind spans at least two pages
    everything = _page_through(client, url, admin_a, limit=2)
    ids = [item["id"] for item in everything]
    assert len(ids) == len(set(ids)), "a row came twice"
    assert set(ids) == mine.ids[kind]
    assert ids == sorted(ids)
    assert {item["tenantId"] for item in everything} == {TENANT_A}

    gone = _page_through(client, url, admin_a, active="false", limit=2)
    assert {item["id"] for item in gone} == mine.deactivated[kind]
    assert all(not item["active"] and item["deactivatedAt"] for item in gone)
    present = _page_through(client, url, admin_a, active="true", limit=2)
    assert {item["id"] for item in present} == mine.ids[kind] - mine.deactivated[kind]
    assert all(item["active"] for item in present)

    q, wanted = SEARCHES[kind]
    # the same rows exist in the other tenant, with the same names: only this tenant's come back
    found = _page_through(client, url, admin_a, q=q, limit=2)
    assert {item["id"] for item in found} == {mine.by_external_id[kind][e] for e in wanted}
    assert _page_through(client, url, admin_a, q=q, active="false") == []
    leaver = next(iter(mine.deactivated[kind]))
    assert [i["id"] for i in _page_through(client, url, admin_a, q=leaver, active="false")] == [leaver]

    # a platform admin reads tenant B at its own URL, a district admin of A cannot
    other = _page_through(client, f"/api/v1/tenants/{TENANT_B}/roster/{kind}", platform, limit=3)
    assert {item["id"] for item in other} == theirs.ids[kind]
    assert theirs.ids[kind].isdisjoint(mine.ids[kind])
    assert client.get(f"/api/v1/tenants/{TENANT_B}/roster/{kind}", headers=admin_a).status_code == 403
