"""What a OneRoster extract yields: canonical records, planned steps, deltas and cursors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx

from libs.connectors.base import ExtractStep, FeedMode
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from libs.connectors.records import Class, Enrollment, School, Term, User
from libs.enums import EntityType, SyncMode
from tests.connectors.oneroster_api.fake import FakeServer


def step(name: str, entity: EntityType, **params: str) -> ExtractStep:
    return ExtractStep(name, (entity,), params)


def test_plan_splits_enrollments_per_school(make_connector: Callable[..., OneRosterApiConnector]) -> None:
    names = [s.name for s in make_connector().plan()]

    assert names == ["schools", "terms", "classes", "users", "enrollments:school:s1", "enrollments:school:s2"]


def test_plan_without_partitions_reads_enrollments_whole(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    steps = make_connector(enrollmentPartitions="none").plan()

    assert steps[-1] == ExtractStep("enrollments", (EntityType.ENROLLMENT,))
    assert server.requests == []


def test_partitions_together_yield_every_enrollment_once(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    connector = make_connector()
    ids = [r.external_id for s in connector.plan() if s.name.startswith("enrollments") for r in connector.extract(s)]

    assert sorted(ids) == sorted(e["sourcedId"] for e in server.data["enrollments"])
    assert "/schools/s1/enrollments" in server.paths()


def test_schools_are_the_orgs_of_type_school(make_connector: Callable[..., OneRosterApiConnector]) -> None:
    extraction = make_connector().extract(step("schools", EntityType.SCHOOL))

    schools = list(extraction)

    assert [(s.external_id, s.name, s.school_number) for s in schools if isinstance(s, School)] == [
        ("s1", "North High", "101"),
        ("s2", "South High", "102"),
    ]
    assert extraction.source["skipped"] == {"org type district": 1}


def test_terms_classes_users_and_enrollments_map_to_the_canonical_model(
    make_connector: Callable[..., OneRosterApiConnector],
) -> None:
    connector = make_connector()
    terms = {t.external_id: t for t in connector.extract(step("terms", EntityType.TERM)) if isinstance(t, Term)}
    classes = [c for c in connector.extract(step("classes", EntityType.CLASS)) if isinstance(c, Class)]
    users = {u.external_id: u for u in connector.extract(step("users", EntityType.USER)) if isinstance(u, User)}
    enrollments = [e for e in connector.extract(step("e", EntityType.ENROLLMENT)) if isinstance(e, Enrollment)]

    assert terms["t1"].type == "semester"
    assert terms["t1"].parent_external_id == "y1"
    assert terms["y1"].type == "school_year"
    assert terms["y1"].start_date == date(2024, 8, 1)
    assert classes[0].course_title == "Algebra I"
    assert classes[0].course_code == "ALG1"
    assert classes[0].term_external_ids == ("t1",)
    assert classes[0].school_external_id == "s1"
    teacher = users["t-s1"]
    assert teacher.role == "teacher"
    assert teacher.enabled is True
    # the district org is a parent, not a school of the user
    assert teacher.school_external_ids == ("s1",)
    assert teacher.raw is not None
    assert "password" not in teacher.raw
    assert users["st-s1-0"].student_number == "N00"
    assert "g1" not in users
    primary = next(e for e in enrollments if e.external_id == "e-t-s1")
    assert primary.primary is True
    assert primary.role == "teacher"
    assert primary.class_external_id == "k0"


def test_string_booleans_are_read_as_booleans(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.data["users"][0]["enabledUser"] = "false"
    server.data["users"][1]["enabledUser"] = "TRUE"
    users = {u.external_id: u for u in make_connector().extract(step("u", EntityType.USER)) if isinstance(u, User)}

    assert users[server.data["users"][0]["sourcedId"]].enabled is False
    assert users[server.data["users"][1]["sourcedId"]].enabled is True


def test_student_number_may_come_from_a_configured_user_id_type(
    make_connector: Callable[..., OneRosterApiConnector],
) -> None:
    connector = make_connector(studentNumberUserIdType="studentnumber")
    users = {u.external_id: u for u in connector.extract(step("u", EntityType.USER)) if isinstance(u, User)}

    assert users["st-s1-2"].student_number == "SN2"
    assert users["st-s1-2"].sis_id == "N02"


def test_a_tobedeleted_object_is_absent_from_a_full_snapshot(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.data["enrollments"][0]["status"] = "tobedeleted"
    extraction = make_connector().extract(step("e", EntityType.ENROLLMENT))

    ids = [r.external_id for r in extraction]

    assert server.data["enrollments"][0]["sourcedId"] not in ids
    assert extraction.outcomes[EntityType.ENROLLMENT].mode is FeedMode.FULL


def test_an_incremental_run_asks_for_changes_since_the_cursor_and_yields_tombstones(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.data["users"][2].update(dateLastModified="2025-07-02T08:00:00.000Z", familyName="Changed")
    server.data["users"][3].update(dateLastModified="2025-07-02T09:00:00.000Z", status="tobedeleted")
    connector = make_connector(
        context={"mode": SyncMode.INCREMENTAL, "cursor": {"lastModified": "2025-07-01T12:00:00Z"}},
        deltaOverlapSeconds=30,
    )

    extraction = connector.extract(step("u", EntityType.USER))
    records = [r for r in extraction if isinstance(r, User)]

    assert [(r.external_id, r.tombstone) for r in records] == [
        (server.data["users"][2]["sourcedId"], False),
        (server.data["users"][3]["sourcedId"], True),
    ]
    assert extraction.outcomes[EntityType.USER].mode is FeedMode.DELTA
    users_request = next(r for r in server.requests if r.url.path.endswith("/users"))
    assert users_request.url.params["filter"] == "dateLastModified>'2025-07-01T11:59:30Z'"
    # the schools lookup is never filtered: a user's schools must all be known
    orgs_request = next(r for r in server.requests if r.url.path.endswith("/orgs"))
    assert "filter" not in orgs_request.url.params


def test_an_incremental_run_reads_enrollments_in_one_step(
    make_connector: Callable[..., OneRosterApiConnector],
) -> None:
    cursor = {"lastModified": "2025-07-01T00:00:00Z"}
    connector = make_connector(context={"mode": SyncMode.INCREMENTAL, "cursor": cursor})

    assert connector.plan()[-1].name == "enrollments"


def test_an_incremental_run_without_a_cursor_is_a_full_one(
    make_connector: Callable[..., OneRosterApiConnector],
) -> None:
    extraction = make_connector(context={"mode": SyncMode.INCREMENTAL}).extract(step("u", EntityType.USER))
    list(extraction)

    assert extraction.outcomes[EntityType.USER].mode is FeedMode.FULL


def test_the_next_cursor_is_the_server_clock_when_the_earliest_step_began(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    connector = make_connector()
    sources = []
    for date_header, entity in (("Tue, 01 Jul 2025 12:00:05 GMT", EntityType.USER), (None, EntityType.TERM)):
        if date_header:
            server.date = date_header
        extraction = connector.extract(step(entity.value, entity))
        list(extraction)
        sources.append(extraction.source)
    sources.append({"startedAt": "2025-07-01T11:59:00Z"})

    assert connector.next_cursor(sources) == {"lastModified": "2025-07-01T11:59:00Z"}
    assert connector.next_cursor(sources[:2]) == {"lastModified": "2025-07-01T12:00:05Z"}


def test_the_source_reports_requests_and_pages(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit = 3
    calls = {"n": 0}

    def one_429(request: httpx.Request) -> httpx.Response | None:
        calls["n"] += 1
        return httpx.Response(429, headers={"retry-after": "0"}) if calls["n"] == 2 else None

    server.hook = one_429
    extraction = make_connector().extract(step("classes", EntityType.CLASS))
    assert len(list(extraction)) == 2

    assert extraction.source["pages"] == 2  # one /courses page, one /classes page
    assert extraction.source["requests"]["requests"] == 3
    assert extraction.source["requests"]["rateLimited"] == 1
