"""Every operation of Clever's v3.0-client.yml, called on the simulator by a client generated
from that spec (bravado) with response validation on, plus the reality fixes (tests/clever/swagger.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from devkit.simulators.clever.app import Simulator
from devkit.simulators.serving import ThreadedServer
from tests.clever.swagger import HTTPNotFound, ValidationError, clever_client

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def operations(spec_file: Path) -> set[str]:
    spec = yaml.safe_load(spec_file.read_text())
    return {op["operationId"] for path in spec["paths"].values() for op in path.values() if isinstance(op, dict)}


@pytest.fixture
def client(spec_file: Path, sim_server: ThreadedServer, simulator: Simulator) -> Any:
    return clever_client(spec_file, sim_server.url, simulator.token)


def sample(simulator: Simulator) -> dict[str, str]:
    store = simulator.store
    sections = store.collections["sections"].objects
    section = next(s for s in sections.values() if s["students"] and s["teachers"] and s.get("term_id"))
    student = section["students"][0]
    teacher = section["teachers"][0]
    return {
        "district": store.district_id,
        "school": section["school"],
        "section": section["id"],
        "course": section["course"],
        "term": section["term_id"],
        "student": student,
        "teacher": teacher,
    }


def calls(ids: dict[str, str]) -> dict[str, dict[str, Any]]:
    """operationId -> arguments: every GET of the spec."""
    return {
        "getDistricts": {},
        "getDistrict": {"id": ids["district"]},
        "getSchools": {"limit": 10000},
        "getSchool": {"id": ids["school"]},
        "getCoursesForSchool": {"id": ids["school"]},
        "getDistrictForSchool": {"id": ids["school"]},
        "getSectionsForSchool": {"id": ids["school"], "limit": 10000},
        "getTermsForSchool": {"id": ids["school"]},
        "getUsersForSchool": {"id": ids["school"], "role": "student", "primary": "true", "limit": 500},
        "getSections": {"limit": 10000},
        "getSection": {"id": ids["section"]},
        "getCourseForSection": {"id": ids["section"]},
        "getDistrictForSection": {"id": ids["section"]},
        "getResourcesForSection": {"id": ids["section"]},
        "getSchoolForSection": {"id": ids["section"]},
        "getTermForSection": {"id": ids["section"]},
        "getUsersForSection": {"id": ids["section"], "role": "teacher"},
        "getUsers": {"limit": 10000},
        "getUser": {"id": ids["teacher"]},
        "getDistrictForUser": {"id": ids["student"]},
        "getContactsForUser": {"id": ids["student"]},
        "getStudentsForUser": {"id": ids["teacher"]},
        "getTeachersForUser": {"id": ids["student"]},
        "getResourcesForUser": {"id": ids["student"]},
        "getSchoolsForUser": {"id": ids["student"], "primary": ""},
        "getSectionsForUser": {"id": ids["student"]},
        "getTerms": {},
        "getTerm": {"id": ids["term"]},
        "getDistrictForTerm": {"id": ids["term"]},
        "getSchoolsForTerm": {"id": ids["term"]},
        "getSectionsForTerm": {"id": ids["term"], "limit": 10000},
        "getCourses": {"limit": 10000},
        "getCourse": {"id": ids["course"]},
        "getDistrictForCourse": {"id": ids["course"]},
        "getResourcesForCourse": {"id": ids["course"]},
        "getSchoolsForCourse": {"id": ids["course"]},
        "getSectionsForCourse": {"id": ids["course"]},
        "getResources": {},
        "getEvents": {"limit": 10000},
        "getEvent": {"id": ids["event"]},
    }


# the simulated district has no content resources: their objects answer Clever's 404
NOT_FOUND = {"getResource", "getCoursesForResource", "getSectionsForResource", "getUsersForResource"}


def test_every_operation_of_the_spec_validates_against_the_simulator(
    client: Any, simulator: Simulator, spec_file: Path
) -> None:
    simulator.churn(5, seed=2)  # so that events of every kind exist
    ids = sample(simulator)
    ids["event"] = simulator.events.ids[-1]
    table = calls(ids)
    assert set(table) | NOT_FOUND == operations(spec_file)

    for operation, arguments in table.items():
        tag = client.Events if operation in ("getEvents", "getEvent") else client.Data
        result = getattr(tag, operation)(**arguments).response().result
        assert result["data"] is not None, operation
    for operation in NOT_FOUND:
        with pytest.raises(HTTPNotFound):
            getattr(client.Data, operation)(id="0" * 24).response()


def test_whole_lists_and_every_event_kind_validate(client: Any, simulator: Simulator) -> None:
    simulator.churn(5, seed=2)
    users = client.Data.getUsers(limit=10000).response().result["data"]
    sections = client.Data.getSections(limit=10000).response().result["data"]
    events = client.Events.getEvents(limit=10000).response().result["data"]

    assert len(users) == len(simulator.store.collections["users"].ids)
    assert len(sections) == len(simulator.store.collections["sections"].ids)
    kinds = {e["data"]["type"] for e in events}
    assert {"users.created", "users.updated", "users.deleted", "sections.updated"} <= kinds


def test_the_validating_client_rejects_what_clever_would_not_send(client: Any, simulator: Simulator) -> None:
    ids = sample(simulator)
    sections = simulator.store.collections["sections"]
    sections.add({**sections.objects[ids["section"]], "subject": "Math"})  # Clever's enum is lowercase "math"

    with pytest.raises(ValidationError):
        client.Data.getSection(id=ids["section"]).response()
