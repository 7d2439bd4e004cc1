"""The change list of a HELD run: each planned change, with field-level before and after.

Read from the kept plan (`sis_held_*`). "After" is the planned row; "before" is the store's
entity as it is now, its references turned back into this provider's external ids, so both
sides speak the source's terms. Only the rows of one page are compared (a query per entity
type for the page, one for their store rows). Content hashes and the source's raw record never
leave the database.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, text

from libs.db.models.staging import HELD_TABLES
from libs.enums import LOAD_ORDER, EntityType
from libs.etl.details import ACTIONS
from libs.etl.held import STORE_TABLES


def _ext(entity: str, column: str) -> str:
    """A store reference (uuid) as this provider's external id."""
    return (
        f"(SELECT x.external_id FROM sis_entity_links x WHERE x.provider_id = :p AND x.entity_type = '{entity}' "
        f"AND x.entity_id = e.{column} ORDER BY x.active DESC, x.external_id LIMIT 1)"
    )


def _ext_array(entity: str, column: str) -> str:
    return (
        f"ARRAY(SELECT x.external_id FROM unnest(e.{column}) WITH ORDINALITY AS u(id, i) "
        f"JOIN sis_entity_links x ON x.provider_id = :p AND x.entity_type = '{entity}' AND x.entity_id = u.id "
        "ORDER BY u.i)"
    )


def _same(*names: str) -> dict[str, str]:
    return {n: f"e.{n}" for n in names}


# per entity type: staging field -> the store's value in the same terms (alias `e`)
CURRENT: dict[EntityType, dict[str, str]] = {
    EntityType.SCHOOL: _same("name", "school_number", "state_id", "nces_id", "low_grade", "high_grade"),
    EntityType.TERM: {
        **_same("name", "type", "start_date", "end_date", "school_year"),
        "parent_external_id": _ext("term", "parent_id"),
    },
    EntityType.CLASS: {
        "school_external_id": _ext("school", "school_id"),
        **_same("title", "class_code", "course_code", "course_title", "subjects", "grades", "periods", "location"),
        "term_external_ids": _ext_array("term", "term_ids"),
    },
    EntityType.USER: {
        **_same(
            "role",
            "given_name",
            "middle_name",
            "family_name",
            "email",
            "username",
            "sis_id",
            "student_number",
            "state_id",
            "grades",
            "enabled",
        ),
        "school_external_ids": _ext_array("school", "school_ids"),
        "primary_school_external_id": _ext("school", "primary_school_id"),
    },
    EntityType.ENROLLMENT: {
        "class_external_id": _ext("class", "class_id"),
        "user_external_id": _ext("user", "user_id"),
        "school_external_id": _ext("school", "school_id"),
        **_same("role", "is_primary", "begin_date", "end_date"),
    },
}
# what load writes for a missing value (load.py's coalesce): no change between the two
_DEFAULTS: dict[str, Any] = {
    "subjects": [],
    "grades": [],
    "periods": [],
    "term_external_ids": [],
    "school_external_ids": [],
    "enabled": True,
    "is_primary": False,
}
# the words a change is found by (`q`) and named with, per entity type (staged or store row)
_NAME: dict[EntityType, tuple[str, ...]] = {
    EntityType.SCHOOL: ("name",),
    EntityType.TERM: ("name",),
    EntityType.CLASS: ("title", "class_code"),
    EntityType.USER: ("given_name", "family_name", "email"),
    EntityType.ENROLLMENT: ("role",),
}
_STORE_NAME: dict[EntityType, tuple[str, ...]] = {**_NAME, EntityType.ENROLLMENT: ("role",)}


@dataclass
class Change:
    entity_type: EntityType
    action: str
    external_id: str
    entity_id: uuid.UUID | None
    name: str | None
    changes: dict[str, dict[str, Any]] = field(default_factory=dict)
    # position in the plan (the page cursor), not shown
    seq: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "entityType": self.entity_type.value,
            "action": self.action,
            "externalId": self.external_id,
            "entityId": str(self.entity_id) if self.entity_id else None,
            "name": self.name,
            "changes": self.changes,
        }


@dataclass(frozen=True)
class Filters:
    entity: EntityType | None = None
    action: str | None = None
    q: str | None = None


class BadCursor(ValueError):
    pass


def encode_cursor(entity: EntityType, external_id: str, seq: int) -> str:
    raw = json.dumps([entity.value, external_id, seq], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[EntityType, str, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        entity, external_id, seq = json.loads(raw)
        return EntityType(entity), str(external_id), int(seq)
    except (ValueError, TypeError) as exc:
        raise BadCursor("cursor is not one this API gave out") from exc


def is_kept(conn: Connection, run_id: uuid.UUID) -> bool:
    """Whether the run has a kept plan (HELD, or approved and not finished yet). Judged by the run,
    not by kept rows: a plan that changes nothing (a preview of an unchanged source) is kept too."""
    kept = conn.execute(
        text(
            "SELECT status = 'HELD' OR (status IN ('PENDING', 'IN_PROGRESS') AND options ? 'approvedBy') "
            "FROM sis_sync_runs WHERE id = :r"
        ),
        {"r": run_id},
    ).scalar()
    return bool(kept)


def page(
    conn: Connection,
    run_id: uuid.UUID,
    provider_id: uuid.UUID,
    filters: Filters,
    *,
    limit: int,
    cursor: str | None = None,
) -> tuple[list[Change], str | None]:
    """One page of planned changes in (entity type, external id) order, and the next cursor."""
    after = decode_cursor(cursor) if cursor else None
    out: list[Change] = []
    entities = [filters.entity] if filters.entity else list(LOAD_ORDER)
    if after is not None:
        entities = [e for e in entities if LOAD_ORDER.index(e) >= LOAD_ORDER.index(after[0])]
    for entity in entities:
        start = after[1:] if after is not None and after[0] is entity else None
        out.extend(_rows(conn, run_id, provider_id, entity, filters, start, limit + 1 - len(out)))
        if len(out) > limit:
            # one row more than the page: there is a next page, after the page's last row
            tail = out[limit - 1]
            return out[:limit], encode_cursor(tail.entity_type, tail.external_id, tail.seq)
    return out, None


def all_changes(conn: Connection, run_id: uuid.UUID, provider_id: uuid.UUID, filters: Filters) -> Iterator[Change]:
    cursor: str | None = None
    while True:
        rows, cursor = page(conn, run_id, provider_id, filters, limit=1000, cursor=cursor)
        yield from rows
        if cursor is None:
            return


def _rows(
    conn: Connection,
    run_id: uuid.UUID,
    provider_id: uuid.UUID,
    entity: EntityType,
    filters: Filters,
    start: tuple[str, int] | None,
    limit: int,
) -> list[Change]:
    table = HELD_TABLES[entity].name
    fields = list(CURRENT[entity])
    store = STORE_TABLES[entity]
    where = ["h.run_id = :r"]
    params: dict[str, Any] = {"r": run_id, "p": provider_id, "n": limit}
    if filters.action:
        where.append("h.action = :action")
        params["action"] = filters.action
    if filters.q:
        words = " || ' ' || ".join(f"coalesce(h.{c}, '')" for c in _NAME[entity])
        store_words = " || ' ' || ".join(f"coalesce(e.{c}, '')" for c in _STORE_NAME[entity])
        where.append(
            f"(h.external_id ILIKE :q OR ({words}) ILIKE :q OR EXISTS (SELECT 1 FROM {store} e "
            f"WHERE e.id = h.entity_id AND ({store_words}) ILIKE :q))"
        )
        params["q"] = "%" + filters.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    if start is not None:
        where.append("(h.external_id, h.seq) > (:after_id, :after_seq)")
        params["after_id"], params["after_seq"] = start
    rows = conn.execute(
        text(
            f"SELECT h.seq, h.external_id, h.action, h.entity_id, {', '.join('h.' + f for f in fields)} "
            f"FROM {table} h WHERE {' AND '.join(where)} ORDER BY h.external_id, h.seq LIMIT :n"
        ),
        params,
    ).all()
    if not rows:
        return []
    ids = [r.entity_id for r in rows if r.action != "create" and r.entity_id is not None]
    current: dict[uuid.UUID, dict[str, Any]] = {}
    if ids:
        exprs = ", ".join(f"{sql} AS {name}" for name, sql in CURRENT[entity].items())
        for row in conn.execute(
            text(f"SELECT e.id, {exprs} FROM {store} e WHERE e.id = ANY(:ids)"), {"ids": ids, "p": provider_id}
        ):
            current[row.id] = dict(row._mapping)
    out = []
    for row in rows:
        values = dict(row._mapping)
        before = current.get(row.entity_id) if row.entity_id is not None else None
        change = Change(
            entity_type=entity,
            action=row.action,
            external_id=row.external_id,
            entity_id=row.entity_id,
            name=_name(entity, before if row.action == "deactivate" else values),
            seq=int(row.seq),
        )
        if row.action in ("update", "reactivate", "link"):
            change.changes = _diff(fields, before or {}, values)
        elif row.action == "create":
            change.changes = {f: {"from": None, "to": _plain(values[f])} for f in fields if not _empty(f, values[f])}
        out.append(change)
    return out


def _name(entity: EntityType, values: dict[str, Any] | None) -> str | None:
    if not values:
        return None
    parts = [str(values[c]) for c in _NAME[entity] if values.get(c)]
    if entity is EntityType.USER and values.get("email") and len(parts) > 1:
        parts[-1] = f"<{parts[-1]}>"
    if entity is EntityType.ENROLLMENT:
        parts = [f"{values.get('user_external_id')} in {values.get('class_external_id')} ({values.get('role')})"]
    return " ".join(parts) or None


def _empty(name: str, value: Any) -> bool:
    return value is None or value == _DEFAULTS.get(name, object())


def _norm(name: str, value: Any) -> Any:
    return _DEFAULTS.get(name) if value is None and name in _DEFAULTS else value


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value


def _diff(fields: list[str], before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name in fields:
        old, new = _norm(name, before.get(name)), _norm(name, after.get(name))
        if _plain(old) != _plain(new):
            out[name] = {"from": _plain(old), "to": _plain(new)}
    return out


def counts(conn: Connection, run_id: uuid.UUID) -> dict[str, dict[str, int]]:
    """Kept changes per entity type (plural) and action."""
    out: dict[str, dict[str, int]] = {}
    for entity in LOAD_ORDER:
        rows = conn.execute(
            text(f"SELECT action, count(*) AS n FROM {HELD_TABLES[entity].name} WHERE run_id = :r GROUP BY action"),
            {"r": run_id},
        ).all()
        found = {row.action: int(row.n) for row in rows}
        out[entity.plural] = {action: found.get(action, 0) for action in ACTIONS}
    return out
