"""The connector against Clever's real responses (April 2023 recordings), replayed over HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from devkit.simulators.serving import ThreadedServer
from libs.connectors.base import ConnectorContext, ExtractStep, FeedMode
from libs.connectors.clever import events as clever_events
from libs.connectors.clever.api import CleverApi
from libs.connectors.clever.config import CleverConfig
from libs.connectors.clever.connector import CleverConnector
from libs.connectors.clever.extraction import CleverExtraction
from libs.connectors.errors import AuthError
from libs.connectors.records import Class, Enrollment, Record, RecordError, School, Term, User
from libs.enums import LOAD_ORDER, EntityType
from tests.clever.replay import recorded_objects
from tests.support.egress import LOCAL

DEMO_DISTRICT = "58da8a43cc70ab00017a1a87"


@pytest.fixture
def connector(replay_server: ThreadedServer) -> Iterator[Callable[..., CleverConnector]]:
    made: list[CleverConnector] = []

    def make(**config: Any) -> CleverConnector:
        settings = {"accessToken": "TEST_TOKEN", "districtId": DEMO_DISTRICT, "apiUrl": replay_server.url, **config}
        made.append(
            CleverConnector(CleverConfig.model_validate(settings), ConnectorContext(provider_id="replay", egress=LOCAL))
        )
        return made[-1]

    yield make
    for conn in made:
        conn.close()


def extract_all(conn: CleverConnector) -> tuple[dict[type, list[Record]], list[RecordError], dict[str, Any]]:
    records: dict[type, list[Record]] = {}
    errors: list[RecordError] = []
    sources: dict[str, Any] = {}
    for step in conn.plan():
        extraction = conn.extract(step)
        for item in extraction:
            if isinstance(item, RecordError):
                errors.append(item)
            else:
                records.setdefault(type(item), []).append(item)
        assert all(o.mode == FeedMode.FULL and o.complete for o in extraction.outcomes.values()), step.name
        sources[step.name] = extraction.source
    return records, errors, sources


def test_connection_to_the_recorded_demo_district_succeeds(connector: Callable[..., CleverConnector]) -> None:
    result = connector().test_connection()

    assert result.success, result.message
    assert result.message == "Successfully connected to Clever"
    assert result.details["district"]["name"] == "#DEMO Certification ISD - Events"


def test_connection_names_the_district_the_token_really_belongs_to(connector: Callable[..., CleverConnector]) -> None:
    result = connector(districtId="5940d254203e37907e0000f0").test_connection()

    assert not result.success
    assert DEMO_DISTRICT in result.message
    assert "5940d254203e37907e0000f0" in result.message


def test_recorded_district_extracts_with_the_recorded_counts(
    connector: Callable[..., CleverConnector], cassettes: Path
) -> None:
    schools = recorded_objects(cassettes, "/v3.0/schools")
    terms = recorded_objects(cassettes, "/v3.0/terms")
    sections = recorded_objects(cassettes, "/v3.0/sections")
    users = recorded_objects(cassettes, "/v3.0/users")
    memberships = {
        (s["id"], u, role)
        for s in sections
        for role, members in (("student", s["students"]), ("teacher", s["teachers"] + [s["teacher"]]))
        for u in members
        if u
    }

    records, errors, sources = extract_all(connector())

    assert errors == []
    assert len(records[School]) == len(schools) == 4
    assert len(records[Term]) == len(terms) == 5
    assert len(records[Class]) == len(sections) == 100
    assert {r.external_id for r in records[User]} == {u["id"] for u in users}
    assert len(records[User]) == len(users) == 200
    assert len(records[Enrollment]) == len(memberships)
    assert {(e.class_external_id, e.user_external_id, e.role) for e in records[Enrollment]} == memberships
    # the users list is two recorded pages and an empty page past the end
    assert sources["students"]["lists"]["/v3.0/users?role=student"]["pages"] == 3
    assert all(s["requests"]["retries"] == 0 for s in sources.values())


def test_recorded_objects_map_to_canonical_fields(connector: Callable[..., CleverConnector]) -> None:
    records, _, _ = extract_all(connector())

    school = next(r for r in records[School] if r.external_id == "58da8c58155b940248000007")
    assert (school.name, school.school_number, school.state_id) == ("Pineapple Elementary School", "13K123", "30890")
    assert (school.low_grade, school.high_grade) == ("TK", "05")
    term = next(r for r in records[Term] if r.external_id == "5b42365868c8d6104f634d34")
    assert term.start_date is not None
    assert term.end_date is not None
    assert term.start_date < term.end_date
    section = next(r for r in records[Class] if r.external_id == "58da8c6a894273be68000182")
    assert section.title == "Sixth Grade Advisory - Madison - 4"
    assert section.class_code == "587"  # section_number is "" in the recording: sis_id stands in
    assert section.term_external_ids == ("5b42365868c8d6104f634d34",)
    assert section.subjects == ("homeroom/advisory",)
    assert section.periods == ("4",)
    assert section.grades == ("06",)
    student = next(r for r in records[User] if isinstance(r, User) and r.role == "student")
    assert student.primary_school_external_id in student.school_external_ids
    assert student.sis_id
    assert student.grades


def test_co_teachers_enrol_as_teachers_and_only_the_section_teacher_is_primary(
    connector: Callable[..., CleverConnector],
) -> None:
    records, _, _ = extract_all(connector())
    sections = {r.external_id: r.raw for r in records[Class]}
    teachers = [e for e in records[Enrollment] if isinstance(e, Enrollment) and e.role == "teacher"]

    co_taught = {e.class_external_id for e in teachers if not e.primary}
    assert co_taught, "the recordings hold sections with co-teachers"
    for enrollment in teachers:
        raw = sections[enrollment.class_external_id]
        assert raw is not None
        assert enrollment.primary == (enrollment.user_external_id == raw["teacher"])


def test_an_html_error_page_becomes_a_clear_auth_error(replay_server: ThreadedServer, cassettes: Path) -> None:
    # recorded: a district-admin user token asking a district endpoint gets an HTML 404
    recorded = yaml.safe_load((cassettes / "api" / "resources_district_admin.yml").read_text())
    token = recorded["http_interactions"][0]["request"]["headers"]["Authorization"][0].split(" ", 1)[1]
    settings = {"accessToken": token, "districtId": DEMO_DISTRICT, "apiUrl": replay_server.url}
    config = CleverConfig.model_validate(settings)
    api = CleverApi(config, ConnectorContext(provider_id="replay", egress=LOCAL))

    with pytest.raises(AuthError) as caught:
        api.get_json(api.url("/v3.0/resources"))
    api.close()

    assert "HTML page (HTTP 404)" in caught.value.message
    assert token not in caught.value.message


def test_real_events_coalesce_into_a_delta(cassettes: Path) -> None:
    recorded = yaml.safe_load((cassettes / "client" / "events.yml").read_text())
    body = recorded["http_interactions"][0]["response"]["body"]["string"]
    events = json.loads(body)["data"]
    first = events[0]["data"]["id"]

    def handler(request: httpx.Request) -> httpx.Response:
        # the recorded page, then the end of the list
        if request.url.params.get("starting_after") == "000000000000000000000000":
            return httpx.Response(200, content=body.replace('{"rel":"next"', '{"rel":"x"').encode())
        return httpx.Response(200, json={"data": [], "links": []})

    config = CleverConfig.model_validate({"accessToken": "TEST_TOKEN", "districtId": DEMO_DISTRICT})
    api = CleverApi(config, ConnectorContext(provider_id="replay", http_transport=httpx.MockTransport(handler)))
    step = ExtractStep("events", LOAD_ORDER, {"cursor": "000000000000000000000000"})
    extraction = CleverExtraction(step, api, clever_events.read_changes)

    items = list(extraction)
    api.close()

    user_ids = {e["data"]["data"]["object"]["id"] for e in events if e["data"]["type"].startswith("users.")}
    school_ids = {e["data"]["data"]["object"]["id"] for e in events if e["data"]["type"].startswith("schools.")}
    roster_roles = {"student", "teacher", "staff"}
    roster_users = {
        e["data"]["data"]["object"]["id"]
        for e in events
        if e["data"]["type"].startswith("users.") and set(e["data"]["data"]["object"]["roles"]) & roster_roles
    }
    assert first < extraction.source["lastEventId"]
    assert extraction.source["lastEventId"] == events[-1]["data"]["id"]
    assert all(o.mode == FeedMode.DELTA for o in extraction.outcomes.values())
    assert {i.external_id for i in items if isinstance(i, User)} == roster_users
    assert len([i for i in items if isinstance(i, User)]) == len(roster_users) <= len(user_ids)
    assert {i.external_id for i in items if isinstance(i, School)} == school_ids
    assert extraction.outcomes[EntityType.ENROLLMENT].complete_classes == frozenset()
