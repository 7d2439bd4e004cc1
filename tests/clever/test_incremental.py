"""Incremental syncs from Clever events: planning, the delta, and falling back to a full sync."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

from libs.connectors.base import ConnectorContext, FeedMode
from libs.connectors.clever import events
from libs.connectors.clever.config import CleverConfig
from libs.connectors.clever.connector import CleverConnector
from libs.connectors.records import Class, Enrollment, Item, School, User
from libs.enums import LOAD_ORDER, EntityType, SyncMode

DISTRICT = "5940d254203e37907e0000f0"


def event_id(seconds_ago: float, n: int = 0) -> str:
    return f"{int(time.time() - seconds_ago):08x}{n:016x}"


def connector(
    handler: Callable[[httpx.Request], httpx.Response], cursor: str | None = None, **config: Any
) -> CleverConnector:
    settings = CleverConfig.model_validate({"districtId": DISTRICT, "accessToken": "tok", **config})
    context = ConnectorContext(
        provider_id="p",
        mode=SyncMode.INCREMENTAL,
        cursor={"lastEventId": cursor} if cursor else {},
        http_transport=httpx.MockTransport(handler),
    )
    return CleverConnector(settings, context)


def listing(items: list[dict[str, Any]]) -> httpx.Response:
    return httpx.Response(200, json={"data": [{"data": i} for i in items], "links": []})


def ev(n: int, kind: str, obj: dict[str, Any], previous: dict[str, Any] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"object": obj}
    if previous is not None:
        data["previous_attributes"] = previous
    return {"id": event_id(60, n), "type": kind, "created": "2026-01-01T00:00:00.000Z", "data": data}


def run(conn: CleverConnector) -> tuple[list[Item], dict[EntityType, Any], dict[str, Any]]:
    (step,) = conn.plan()
    extraction = conn.extract(step)
    items = list(extraction)
    conn.close()
    return items, extraction.outcomes, extraction.source


def test_a_full_sync_leaves_a_cursor_from_before_it_started() -> None:
    conn = connector(lambda r: listing([]))
    conn.context.mode = SyncMode.FULL

    steps = conn.plan()
    cursor = conn.next_cursor([{"lastEventId": s.params["eventsFrom"]} for s in steps])

    assert [s.name for s in steps] == ["schools", "terms", "sections", "students", "staff"]
    started = events.objectid_seconds(cursor["lastEventId"])
    assert started is not None
    assert time.time() - 700 < started < time.time() - 500


def test_an_incremental_sync_with_a_fresh_cursor_reads_events_only() -> None:
    cursor = event_id(3600)
    (step,) = connector(lambda r: listing([]), cursor).plan()

    assert step.name == "events"
    assert step.entity_types == LOAD_ORDER
    assert step.params["cursor"] == cursor


def test_without_a_cursor_or_with_one_beyond_the_events_window_the_sync_is_full_and_says_why() -> None:
    for cursor, why in ((None, "no event cursor"), (event_id(40 * 86_400), "40 days old")):
        conn = connector(lambda r: listing([]), cursor)
        steps = conn.plan()
        extraction = conn.extract(steps[0])
        list(extraction)
        conn.close()

        assert len(steps) == 5
        outcome = extraction.outcomes[EntityType.SCHOOL]
        assert outcome.mode == FeedMode.FULL
        assert outcome.message is not None
        assert "fell back to a full sync" in outcome.message
        assert why in outcome.message


def test_when_clever_refuses_the_events_the_step_reads_the_whole_district_instead() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3.0/events":
            return httpx.Response(404, html="<pre>Cannot GET /v3.0/events</pre>")
        if request.url.path == "/v3.0/schools":
            return listing([{"id": "a" * 24, "name": "North"}])
        return listing([])

    items, outcomes, source = run(connector(handler, event_id(60)))

    assert [i.external_id for i in items] == ["a" * 24]
    assert all(o.mode == FeedMode.FULL for o in outcomes.values())
    assert "did not serve events" in (outcomes[EntityType.USER].message or "")
    assert events.objectid_seconds(source["lastEventId"]) is not None


def test_too_many_events_make_a_full_sync_instead() -> None:
    many = [ev(n, "schools.updated", {"id": f"{n:024x}"}) for n in range(5)]

    def handler(request: httpx.Request) -> httpx.Response:
        return listing(many if request.url.path == "/v3.0/events" else [])

    items, outcomes, _ = run(connector(handler, event_id(3600), maxIncrementalEvents=3))

    assert items == []
    assert outcomes[EntityType.SCHOOL].mode == FeedMode.FULL
    assert "more than 3 events" in (outcomes[EntityType.SCHOOL].message or "")


def test_events_become_a_delta_with_the_last_change_per_object() -> None:
    teacher = {"id": "t" * 24, "name": {"first": "Pat"}, "roles": {"teacher": {"school": "s1"}}}
    former_teacher = {"id": "f" * 24, "roles": {"district_admin": {}}}
    contact = {"id": "c" * 24, "roles": {"contact": {"phone": "1"}}}
    section = {"id": "e" * 24, "school": "s1", "course": "k1", "students": ["u1", "u2"], "teacher": "t1"}
    section["teachers"] = ["t1"]
    log = [
        ev(1, "schools.updated", {"id": "a" * 24, "name": "Old name"}),
        ev(2, "schools.updated", {"id": "a" * 24, "name": "New name"}),
        ev(3, "users.created", teacher),
        ev(4, "users.updated", former_teacher, {"roles": {"teacher": {"school": "s1"}}}),
        ev(5, "users.updated", contact, {"roles": {"contact": {"phone": "2"}}}),
        ev(6, "users.deleted", {"id": "d" * 24, "roles": {"student": {}}}),
        ev(7, "sections.updated", section),
        ev(8, "sections.deleted", {"id": "9" * 24, "school": "s1"}),
        ev(9, "districts.updated", {"id": DISTRICT}),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v3.0/events":
            return listing(log)
        if request.url.path == "/v3.0/courses":
            return listing([{"id": "k1", "name": "Algebra", "number": "MA1"}])
        raise AssertionError(request.url)

    items, outcomes, source = run(connector(handler, event_id(3600)))

    schools = [i for i in items if isinstance(i, School)]
    assert [(s.external_id, s.name) for s in schools] == [("a" * 24, "New name")]
    users = {i.external_id: i for i in items if isinstance(i, User)}
    assert users["t" * 24].role == "teacher"
    assert not users["t" * 24].tombstone
    assert users["f" * 24].tombstone  # lost its last roster role
    assert users["d" * 24].tombstone
    assert "c" * 24 not in users  # contacts are not roster users
    classes = {i.external_id: i for i in items if isinstance(i, Class)}
    assert classes["e" * 24].course_title == "Algebra"
    assert classes["9" * 24].tombstone
    assert {i.external_id for i in items if isinstance(i, Enrollment)} == {
        f"{'e' * 24}:u1:student",
        f"{'e' * 24}:u2:student",
        f"{'e' * 24}:t1:teacher",
    }
    assert outcomes[EntityType.ENROLLMENT].complete_classes == frozenset({"e" * 24, "9" * 24})
    assert all(o.mode == FeedMode.DELTA and o.complete for o in outcomes.values())
    assert source["lastEventId"] == log[-1]["id"]
    assert source["events"] == len(log)


def test_a_renamed_course_refreshes_the_sections_that_use_it() -> None:
    course = {"id": "k" * 24, "name": "Algebra II", "number": "MA2"}
    section = {"id": "e" * 24, "school": "s1", "course": "k" * 24, "students": ["u1"], "teachers": []}

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v3.0/events":
            return listing([ev(1, "courses.updated", course)])
        if path == "/v3.0/courses":
            return listing([{**course, "name": "Algebra I"}])
        if path == f"/v3.0/courses/{'k' * 24}/sections":
            return listing([section])
        raise AssertionError(path)

    items, outcomes, _ = run(connector(handler, event_id(3600)))

    (cls,) = [i for i in items if isinstance(i, Class)]
    assert cls.course_title == "Algebra II"
    assert outcomes[EntityType.ENROLLMENT].complete_classes == frozenset({"e" * 24})


def test_no_new_events_keep_the_cursor() -> None:
    cursor = event_id(3600)
    _, outcomes, source = run(connector(lambda r: listing([]), cursor))

    assert source["lastEventId"] == cursor
    assert all(o.mode == FeedMode.DELTA for o in outcomes.values())


def test_the_next_cursor_is_the_oldest_any_step_vouches_for() -> None:
    conn = connector(lambda r: listing([]))
    newer, older = event_id(10), event_id(20)

    assert conn.next_cursor([{"lastEventId": newer}, {"lastEventId": older}, {}]) == {"lastEventId": older}
    assert conn.next_cursor([{}]) == {}
