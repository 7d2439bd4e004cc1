"""Paging a OneRoster collection to its real end, and noticing when it was not the end."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from libs.connectors.base import ExtractStep
from libs.connectors.errors import ProtocolError
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from libs.connectors.records import RecordError, User
from libs.enums import EntityType
from tests.connectors.oneroster_api.fake import FakeServer

USERS = ExtractStep("users", (EntityType.USER,))
ENROLLMENTS = ExtractStep("enrollments", (EntityType.ENROLLMENT,))


def users_requested(server: FakeServer) -> list[httpx.Request]:
    return [r for r in server.requests if r.url.path.endswith("/users")]


def test_a_clamped_limit_without_link_header_still_fetches_every_page(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit = 2
    extraction = make_connector(pageSize=1000).extract(USERS)

    users = [r for r in extraction if isinstance(r, User)]

    assert len(users) == 8  # 2 teachers + 6 students; the guardian is not a roster user
    assert len(users_requested(server)) == 5  # 9 objects, 2 per page
    assert extraction.outcomes[EntityType.USER].complete
    assert extraction.source["collections"]["/users"] == {"pages": 5, "received": 9, "total": 9, "duplicates": 0}


def test_without_a_total_the_link_header_ends_the_read(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit, server.send_total, server.link = 4, False, True
    extraction = make_connector().extract(USERS)

    assert len([r for r in extraction if isinstance(r, User)]) == 8
    assert len(users_requested(server)) == 3
    assert extraction.outcomes[EntityType.USER].complete


def test_without_total_or_link_an_empty_page_ends_the_read(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit, server.send_total = 4, False
    extraction = make_connector().extract(USERS)

    assert len([r for r in extraction if isinstance(r, User)]) == 8
    assert len(users_requested(server)) == 4  # 4 + 4 + 1 + an empty page
    assert extraction.outcomes[EntityType.USER].complete


def test_a_total_that_changes_mid_extract_makes_the_extract_incomplete(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit = 3
    original = server.hook

    def grow(request: httpx.Request) -> httpx.Response | None:
        if request.url.params.get("offset") == "3":
            server.data["users"].append({**server.data["users"][1], "sourcedId": "new-1"})
        return original(request) if original else None

    server.hook = grow
    extraction = make_connector().extract(USERS)
    list(extraction)

    outcome = extraction.outcomes[EntityType.USER]
    assert not outcome.complete
    assert outcome.message is not None
    assert "total changed from 9 to 10" in outcome.message
    assert "nothing was deactivated" in outcome.message


def test_a_server_that_stops_before_its_total_makes_the_extract_incomplete(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit = 4

    def truncate(request: httpx.Request) -> httpx.Response | None:
        if request.url.params.get("offset") == "8":
            return httpx.Response(200, headers={"x-total-count": "9"}, json={"users": []})
        return None

    server.hook = truncate
    extraction = make_connector().extract(USERS)
    list(extraction)

    assert not extraction.outcomes[EntityType.USER].complete
    assert "stopped at 8 of the 9" in (extraction.outcomes[EntityType.USER].message or "")


def test_a_server_that_ignores_offset_is_not_read_forever(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.max_limit, server.send_total = 4, False

    def ignore_offset(request: httpx.Request) -> httpx.Response | None:
        if not request.url.path.endswith("/users"):
            return None
        return httpx.Response(200, json={"users": sorted(server.data["users"], key=lambda u: u["sourcedId"])[:4]})

    server.hook = ignore_offset
    extraction = make_connector().extract(USERS)
    records = list(extraction)

    assert len(records) == 3  # the first four objects, less the guardian
    assert not extraction.outcomes[EntityType.USER].complete
    assert len(users_requested(server)) == 2


def test_a_count_that_does_not_add_up_makes_the_extract_incomplete(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    def overstate(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/enrollments"):
            return httpx.Response(200, headers={"x-total-count": "20"}, json={"enrollments": []})
        return None

    server.hook = overstate
    extraction = make_connector().extract(ENROLLMENTS)
    list(extraction)

    assert not extraction.outcomes[EntityType.ENROLLMENT].complete


def test_a_page_whose_x_count_disagrees_with_its_items_makes_the_extract_incomplete(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    def miscount(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/enrollments"):
            items = server.data["enrollments"]
            return httpx.Response(200, headers={"x-total-count": "8", "x-count": "7"}, json={"enrollments": items})
        return None

    server.hook = miscount
    extraction = make_connector().extract(ENROLLMENTS)
    list(extraction)

    assert "announced 7 records but held 8" in (extraction.outcomes[EntityType.ENROLLMENT].message or "")


def test_a_200_without_the_envelope_key_is_a_protocol_error(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.hook = lambda request: httpx.Response(200, json={"students": []}) if "users" in request.url.path else None

    with pytest.raises(ProtocolError, match="without a 'users' list"):
        list(make_connector().extract(USERS))


def test_status_info_warnings_reach_the_outcome_and_the_source(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    warning = {
        "imsx_codeMajor": "success",
        "imsx_severity": "warning",
        "imsx_codeMinor": "invalid_sort_field",
        "imsx_description": "sort by sourcedId is not supported",
    }

    def warn(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/enrollments"):
            body = {"enrollments": server.data["enrollments"], "statusInfoSet": [warning]}
            return httpx.Response(200, headers={"x-total-count": "8"}, json=body)
        return None

    server.hook = warn
    extraction = make_connector().extract(ENROLLMENTS)
    records = list(extraction)

    assert len(records) == 8
    outcome = extraction.outcomes[EntityType.ENROLLMENT]
    assert outcome.complete
    assert outcome.message == "the server warned: invalid_sort_field: sort by sourcedId is not supported"
    assert extraction.source["warnings"] == ["invalid_sort_field: sort by sourcedId is not supported"]


def test_an_object_with_a_bad_value_becomes_a_record_error_and_the_rest_flows(
    server: FakeServer, make_connector: Callable[..., OneRosterApiConnector]
) -> None:
    server.data["enrollments"][0]["primary"] = "maybe"
    extraction = make_connector().extract(ENROLLMENTS)
    records = list(extraction)

    errors = [r for r in records if isinstance(r, RecordError)]
    assert len(records) == 8
    assert [(e.code, e.field, e.external_id) for e in errors] == [
        ("invalid_value", "primary", server.data["enrollments"][0]["sourcedId"])
    ]
    assert extraction.outcomes[EntityType.ENROLLMENT].complete
