"""Read access to a tenant's synced roster, with keyset paging (stable under concurrent syncs)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated

from pydantic import Field
from sqlalchemy import text

from libs.text import Line
from services.api.endpoint import Call, operation
from services.api.problems import field_error, invalid
from services.api.schemas import ApiModel, QueryModel
from services.api.security import require_tenant

TAG = "roster"


class RosterQuery(QueryModel):
    active: bool | None = Field(default=None, description="only active (true) or only deactivated (false) entities")
    q: Line | None = Field(default=None, max_length=200, description="case-insensitive substring of names and ids")
    limit: int = Field(default=100, ge=1, le=1000)
    # a cursor is the id of the last item of the previous page (keyset paging by id)
    cursor: str | None = Field(
        default=None, max_length=36, json_schema_extra={"format": "uuid"}, description="nextCursor of the previous page"
    )


class _Entity(ApiModel):
    id: uuid.UUID
    tenant_id: str
    active: bool
    deactivated_at: datetime | None
    created_at: datetime
    updated_at: datetime


class SchoolOut(_Entity):
    name: str
    school_number: str | None
    state_id: str | None
    nces_id: str | None
    low_grade: str | None
    high_grade: str | None


class TermOut(_Entity):
    name: str
    type: str | None
    start_date: date | None
    end_date: date | None
    parent_id: uuid.UUID | None
    school_year: str | None


class ClassOut(_Entity):
    school_id: uuid.UUID | None
    title: str
    class_code: str | None
    course_code: str | None
    course_title: str | None
    term_ids: list[uuid.UUID]
    subjects: list[str]
    grades: list[str]
    periods: list[str]
    location: str | None


class UserOut(_Entity):
    role: str
    given_name: str | None
    middle_name: str | None
    family_name: str | None
    email: str | None
    username: str | None
    sis_id: str | None
    student_number: str | None
    state_id: str | None
    grades: list[str]
    school_ids: list[uuid.UUID]
    primary_school_id: uuid.UUID | None
    enabled: bool


class EnrollmentOut(_Entity):
    class_id: uuid.UUID
    user_id: uuid.UUID
    school_id: uuid.UUID | None
    role: str
    is_primary: bool
    begin_date: date | None
    end_date: date | None


# the cursor of the next page, or null on the last page
Cursor = Annotated[uuid.UUID | None, Field(description="pass as ?cursor= to get the next page; null on the last")]


class SchoolPage(ApiModel):
    items: list[SchoolOut]
    next_cursor: Cursor


class TermPage(ApiModel):
    items: list[TermOut]
    next_cursor: Cursor


class ClassPage(ApiModel):
    items: list[ClassOut]
    next_cursor: Cursor


class UserPage(ApiModel):
    items: list[UserOut]
    next_cursor: Cursor


class EnrollmentPage(ApiModel):
    items: list[EnrollmentOut]
    next_cursor: Cursor


@dataclass(frozen=True)
class Kind:
    table: str
    item: type[_Entity]
    page: type[ApiModel]
    search: tuple[str, ...]


KINDS = {
    "schools": Kind("schools", SchoolOut, SchoolPage, ("name", "school_number", "state_id", "nces_id")),
    "terms": Kind("terms", TermOut, TermPage, ("name", "school_year")),
    "classes": Kind("classes", ClassOut, ClassPage, ("title", "class_code", "course_code", "course_title")),
    "users": Kind(
        "users",
        UserOut,
        UserPage,
        ("given_name", "family_name", "email", "username", "sis_id", "student_number"),
    ),
    "enrollments": Kind("enrollments", EnrollmentOut, EnrollmentPage, ("role",)),
}


def _list(kind: Kind, call: Call) -> ApiModel:
    tenant_id = call.path["tenantId"]
    require_tenant(call.principal, tenant_id)
    query: RosterQuery = call.query
    where = ["tenant_id = :tenant"]
    params: dict[str, object] = {"tenant": tenant_id, "n": query.limit + 1}
    if query.active is not None:
        where.append("active = :active")
        params["active"] = query.active
    if query.q:
        pattern = "%" + query.q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append("(" + " OR ".join(f"{col} ILIKE :q" for col in kind.search) + " OR id::text = :exact)")
        params["q"] = pattern
        params["exact"] = query.q
    if query.cursor is not None:  # an empty cursor is no cursor of this endpoint
        try:
            params["after"] = uuid.UUID(query.cursor)
        except ValueError:
            raise invalid([field_error(["query", "cursor"], "not a cursor returned by this endpoint")]) from None
        where.append("id > :after")
    columns = ", ".join(kind.item.model_fields)
    with call.services.engine.connect() as conn:
        rows = conn.execute(
            text(f"SELECT {columns} FROM {kind.table} WHERE {' AND '.join(where)} ORDER BY id LIMIT :n"), params
        ).all()
    more = len(rows) > query.limit
    rows = rows[: query.limit]
    items = [kind.item.model_validate(dict(r._mapping)) for r in rows]
    return kind.page.model_validate({"items": items, "next_cursor": rows[-1].id if more else None})


def _register(name: str, kind: Kind) -> None:
    def handler(call: Call) -> ApiModel:
        return _list(kind, call)

    handler.__name__ = f"list_roster_{name}"
    operation(
        "GET",
        f"/api/v1/tenants/{{tenantId}}/roster/{name}",
        summary=f"The tenant's {name} (from every provider of the tenant)",
        tag=TAG,
        response=kind.page,
        query=RosterQuery,
        errors=(401, 403, 404, 422),
    )(handler)


for _name, _kind in KINDS.items():
    _register(_name, _kind)
