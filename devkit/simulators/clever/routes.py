"""Every GET path of Clever's v3.0-client.yml: lists, objects, nested lists and single relations."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from starlette.requests import Request

from devkit.simulators.clever.events import EventLog
from devkit.simulators.clever.paging import PagingError, page_request, render
from devkit.simulators.clever.store import Store

USER_ROLES = ("contact", "district_admin", "staff", "student", "teacher")
SCHOOL_USER_ROLES = ("staff", "student", "teacher")
SECTION_USER_ROLES = ("student", "teacher")
# related links of a single object, as real responses list them
_RELATED = {
    "schools": ("district", "sections", "users", "terms", "courses"),
    "sections": ("district", "school", "term", "course", "users"),
    "courses": ("district", "sections", "schools"),
    "terms": ("district", "sections", "schools"),
}
_SINGULAR = {"school": "schools", "term": "terms", "course": "courses"}

NOT_FOUND = (404, json.dumps({"message": "Not Found"}).encode())


def answer(store: Store, events: EventLog, request: Request, drop_next: Callable[[], bool]) -> tuple[int, bytes]:
    parts = [p for p in request.url.path.split("/")[2:] if p]
    query = list(request.query_params.multi_items())
    raw_query = request.url.query

    def page(ids: Sequence[str], blobs: Mapping[str, bytes]) -> tuple[int, bytes]:
        return 200, render(page_request(request.url.path, query, raw_query), ids, blobs, drop_next)

    if parts == ["me"]:
        me = {"id": store.district_id, "district": store.district_id, "type": "district"}
        return 200, json.dumps({"data": me, "links": [{"rel": "self", "uri": "/v3.0/me"}]}).encode()
    if len(parts) == 1:
        return _list(store, events, parts[0], dict(query), query, page)
    if len(parts) == 2:
        return _item(store, events, parts[0], parts[1])
    if len(parts) == 3:
        return _nested(store, parts[0], parts[1], parts[2].lower(), dict(query), page)
    return NOT_FOUND


def _list(
    store: Store,
    events: EventLog,
    name: str,
    params: dict[str, str],
    query: list[tuple[str, str]],
    page: Callable[[Sequence[str], Mapping[str, bytes]], tuple[int, bytes]],
) -> tuple[int, bytes]:
    if name == "events":
        ids = events.visible()
        types = {v for k, v in query if k == "record_type"}
        school = params.get("school")
        if types or school:
            ids = [i for i in ids if _event_matches(events.events[i], types, school)]
        return page(ids, events.blobs)
    collection = store.collections.get(name)
    if collection is None:
        return NOT_FOUND
    if name == "users" and params.get("role"):
        role = _role(params["role"], USER_ROLES)
        return page(store.by_role.get(role, []), collection.blobs)
    return page(collection.ids, collection.blobs)


def _event_matches(event: dict[str, Any], types: set[str], school: str | None) -> bool:
    if types and event["type"].split(".")[0] not in types:
        return False
    if school is None:
        return True
    obj = event["data"]["object"]
    if school in (obj.get("id"), obj.get("school")):
        return True
    return any(school in (role or {}).get("schools", ()) for role in (obj.get("roles") or {}).values())


def _role(value: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise PagingError(400, f"role must be one of {', '.join(allowed)}")
    return value


def _item(store: Store, events: EventLog, name: str, object_id: str) -> tuple[int, bytes]:
    if name == "events":
        event = events.events.get(object_id)
        if event is None:
            return NOT_FOUND
        return 200, _single(event, [("self", f"/v3.0/events/{object_id}")])
    if name not in store.collections:
        return NOT_FOUND
    obj = store.get(name, object_id)
    if obj is None:
        return NOT_FOUND
    base = f"/v3.0/{name}/{object_id}"
    links = [("self", base)]
    if name == "users":
        roles = obj["roles"]
        related = ["district", "sections"]
        related += ["myContacts", "myTeachers"] if "student" in roles else []
        related += ["myStudents"] if "teacher" in roles else []
        related += ["schools"] if {"student", "teacher", "staff"} & set(roles) else []
    else:
        related = list(_RELATED.get(name, ()))
    for rel in related:
        if rel in _SINGULAR:
            target = obj.get("term_id" if rel == "term" else rel)
            if target:
                links.append((rel, f"/v3.0/{_SINGULAR[rel]}/{target}"))
        elif rel == "district":
            links.append((rel, f"/v3.0/districts/{store.district_id}"))
        else:
            links.append((rel, f"{base}/{rel}"))
    return 200, _single(obj, links)


def _single(obj: dict[str, Any], links: list[tuple[str, str]]) -> bytes:
    return json.dumps({"data": obj, "links": [{"rel": r, "uri": u} for r, u in links]}).encode()


def _relation(store: Store, collection: str, object_id: str) -> tuple[int, bytes]:
    obj = store.get(collection, object_id)
    if obj is None:
        return NOT_FOUND
    return 200, _single(obj, [("self", f"/v3.0/{collection}/{object_id}")])


def _nested(
    store: Store,
    name: str,
    object_id: str,
    rel: str,
    params: dict[str, str],
    page: Callable[[Sequence[str], Mapping[str, bytes]], tuple[int, bytes]],
) -> tuple[int, bytes]:
    if name not in ("schools", "sections", "users", "terms", "courses") or store.get(name, object_id) is None:
        return NOT_FOUND
    obj: dict[str, Any] = store.get(name, object_id) or {}
    c = store.collections
    sections = store.collections["sections"].objects
    if rel == "district":
        return _relation(store, "districts", store.district_id)
    if rel == "resources":
        return page([], {})
    if name == "sections" and rel in ("school", "term", "course"):
        target = obj.get("term_id" if rel == "term" else rel)
        return _relation(store, _SINGULAR[rel], target) if target else NOT_FOUND
    if rel == "sections":
        ids = {
            "schools": store.school_sections,
            "terms": store.term_sections,
            "courses": store.course_sections,
            "users": store.user_sections,
        }[name].get(object_id, [])
        return page(ids, c["sections"].blobs)
    if rel == "users" and name == "schools":
        ids = store.school_users.get(object_id, [])
        if params.get("role"):
            role = _role(params["role"], SCHOOL_USER_ROLES)
            ids = [u for u in ids if role in c["users"].objects[u]["roles"]]
        if params.get("primary") == "true":
            ids = [u for u in ids if _primary_school(c["users"].objects[u]) == object_id]
        return page(ids, c["users"].blobs)
    if rel == "users" and name == "sections":
        wanted = _role(params["role"], SECTION_USER_ROLES) if params.get("role") else None
        members = [*obj["students"]] if wanted in (None, "student") else []
        members += obj["teachers"] if wanted in (None, "teacher") else []
        return page(sorted(set(members)), c["users"].blobs)
    if rel in ("terms", "courses") and name == "schools":
        key = "term_id" if rel == "terms" else "course"
        ids = sorted({sections[s][key] for s in store.school_sections.get(object_id, []) if sections[s].get(key)})
        return page(ids, c[rel].blobs)
    if rel == "schools" and name in ("terms", "courses"):
        by = store.term_sections if name == "terms" else store.course_sections
        return page(sorted({sections[s]["school"] for s in by.get(object_id, [])}), c["schools"].blobs)
    if rel == "schools" and name == "users":
        schools = set(_user_schools(obj))
        if params.get("primary") == "true":
            primary = _primary_school(obj)
            schools = {primary} if primary else set()
        return page(sorted(schools), c["schools"].blobs)
    if name == "users" and rel in ("mystudents", "myteachers"):
        key = "students" if rel == "mystudents" else "teachers"
        mine = {u for s in store.user_sections.get(object_id, []) for u in sections[s][key] if u != object_id}
        return page(sorted(mine), c["users"].blobs)
    if name == "users" and rel == "mycontacts":
        contacts = c["users"].objects
        ids = [
            u
            for u in store.by_role.get("contact", [])
            if any(r["student"] == object_id for r in contacts[u]["roles"]["contact"]["student_relationships"])
        ]
        return page(ids, c["users"].blobs)
    return NOT_FOUND


def _user_schools(obj: dict[str, Any]) -> list[str]:
    return [school for role in obj["roles"].values() for school in (role or {}).get("schools") or ()]


def _primary_school(obj: dict[str, Any]) -> str | None:
    for key in ("student", "teacher"):
        role = obj["roles"].get(key)
        if role and role.get("school"):
            return str(role["school"])
    return None
