"""Deleting a provider: refused while a sync is active; links and entities kept or deactivated."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.providers.removal import deactivate_provider_entities
from tests.api.conftest import TENANT_A


def _roster(db: Engine, provider_ids: list[str]) -> dict[str, uuid.UUID]:
    """Two schools and two users; school s2 and user shared are also linked by the second provider."""
    ids = {name: uuid.uuid4() for name in ("s1", "s2", "only", "shared")}
    with db.begin() as conn:
        for name in ("s1", "s2"):
            conn.execute(
                text("INSERT INTO schools (id, tenant_id, name) VALUES (:id, :t, :n)"),
                {"id": ids[name], "t": TENANT_A, "n": name},
            )
        for name in ("only", "shared"):
            conn.execute(
                text("INSERT INTO users (id, tenant_id, role) VALUES (:id, :t, 'student')"),
                {"id": ids[name], "t": TENANT_A},
            )
        links = [
            (provider_ids[0], "school", "s1"),
            (provider_ids[0], "school", "s2"),
            (provider_ids[0], "user", "only"),
            (provider_ids[0], "user", "shared"),
            (provider_ids[1], "school", "s2"),
            (provider_ids[1], "user", "shared"),
        ]
        for provider_id, entity_type, name in links:
            conn.execute(
                text(
                    "INSERT INTO sis_entity_links (provider_id, entity_type, external_id, entity_id) "
                    "VALUES (:p, :e, :x, :id)"
                ),
                {"p": provider_id, "e": entity_type, "x": f"ext-{name}", "id": ids[name]},
            )
    return ids


def _active(db: Engine, table: str, entity_id: uuid.UUID) -> bool:
    with db.connect() as conn:
        return bool(conn.execute(text(f"SELECT active FROM {table} WHERE id = :id"), {"id": entity_id}).scalar_one())


def test_delete_is_refused_while_a_sync_is_active(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]]
) -> None:
    provider = create_provider()
    run_id = client.post(f"/api/v1/providers/{provider['id']}/sync", headers=admin_a).json()["runId"]
    response = client.delete(f"/api/v1/providers/{provider['id']}", headers=admin_a)
    assert response.status_code == 409
    assert response.json()["runId"] == run_id
    assert client.get(f"/api/v1/providers/{provider['id']}", headers=admin_a).status_code == 200


def test_delete_keeps_the_roster_by_default(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    first, second = create_provider(), create_provider()
    ids = _roster(db, [first["id"], second["id"]])
    response = client.delete(f"/api/v1/providers/{first['id']}", headers=admin_a)
    assert response.status_code == 200
    assert response.json() == {"id": first["id"], "deleted": True, "deactivated": None}
    assert all(_active(db, "schools", ids[n]) for n in ("s1", "s2"))
    assert client.get(f"/api/v1/providers/{first['id']}", headers=admin_a).status_code == 404
    assert client.delete(f"/api/v1/providers/{first['id']}", headers=admin_a).status_code == 404
    with db.connect() as conn:
        assert conn.execute(
            text("SELECT enabled, next_run_at FROM sis_providers WHERE id = :p"), {"p": first["id"]}
        ).one() == (False, None)


def test_delete_with_deactivate_entities_spares_what_another_provider_still_links(
    client: TestClient, admin_a: dict[str, str], create_provider: Callable[..., dict[str, Any]], db: Engine
) -> None:
    first, second = create_provider(), create_provider()
    ids = _roster(db, [first["id"], second["id"]])
    response = client.delete(f"/api/v1/providers/{first['id']}?deactivateEntities=true", headers=admin_a)
    assert response.status_code == 200
    assert response.json()["deactivated"] == {
        "links": 4,
        "schools": 1,
        "terms": 0,
        "classes": 0,
        "users": 1,
        "enrollments": 0,
    }
    assert not _active(db, "schools", ids["s1"])
    assert _active(db, "schools", ids["s2"])
    assert not _active(db, "users", ids["only"])
    assert _active(db, "users", ids["shared"])
    with db.connect() as conn:
        stamped = conn.execute(text("SELECT deactivated_at FROM schools WHERE id = :id"), {"id": ids["s1"]}).scalar()
        remaining = conn.execute(
            text("SELECT count(*) FROM sis_entity_links WHERE active AND provider_id = :p"), {"p": first["id"]}
        ).scalar_one()
    assert stamped is not None
    assert remaining == 0


def test_deactivating_twice_changes_nothing_more(create_provider: Callable[..., dict[str, Any]], db: Engine) -> None:
    first, second = create_provider(), create_provider()
    _roster(db, [first["id"], second["id"]])
    with db.begin() as conn:
        assert deactivate_provider_entities(conn, first["id"])["links"] == 4
    with db.begin() as conn:
        assert set(deactivate_provider_entities(conn, first["id"]).values()) == {0}
