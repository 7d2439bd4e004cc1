"""The Clever simulator behaves like Clever: paging, filters, auth, rate limit, faults, events."""

from __future__ import annotations

import base64
import time

import httpx

from devkit.simulators.clever.app import Simulator
from devkit.simulators.serving import ThreadedServer


def links(body: dict[str, object]) -> dict[str, str]:
    return {link["rel"]: link["uri"] for link in body["links"]}  # type: ignore[attr-defined]


def ids(body: dict[str, object]) -> list[str]:
    return [item["data"]["id"] for item in body["data"]]  # type: ignore[attr-defined]


def test_lists_page_in_ascending_ids_with_host_relative_links_keeping_limit_first(sim_http: httpx.Client) -> None:
    first = sim_http.get("/v3.0/users", params={"limit": 25, "role": "student"}).json()
    second = sim_http.get(links(first)["next"]).json()

    assert ids(first) == sorted(ids(first))
    assert len(ids(first)) == 25
    assert links(first) == {
        "self": "/v3.0/users?limit=25&role=student",
        "next": f"/v3.0/users?limit=25&role=student&starting_after={ids(first)[-1]}",
    }
    assert ids(first)[-1] < ids(second)[0]
    assert links(second)["prev"] == f"/v3.0/users?limit=25&role=student&ending_before={ids(second)[0]}"
    assert all("student" in item["data"]["roles"] for item in first["data"] + second["data"])
    assert all(item["uri"] == f"/v3.0/users/{item['data']['id']}" for item in first["data"])


def test_the_last_page_has_no_next_and_reading_past_it_is_an_empty_page(
    sim_http: httpx.Client, simulator: Simulator
) -> None:
    schools = simulator.store.collections["schools"].ids
    last = sim_http.get("/v3.0/schools", params={"limit": 3, "starting_after": schools[-4]}).json()
    past = sim_http.get("/v3.0/schools", params={"starting_after": schools[-1]}).json()

    assert ids(last) == schools[-3:]
    assert "next" not in links(last)
    assert past["data"] == []
    assert "next" not in links(past)


def test_ending_before_reads_backwards_and_default_page_is_100(sim_http: httpx.Client, simulator: Simulator) -> None:
    users = simulator.store.collections["users"].ids
    before = sim_http.get("/v3.0/users", params={"ending_before": users[250], "limit": 50}).json()
    default = sim_http.get("/v3.0/users").json()

    assert ids(before) == users[200:250]
    assert len(default["data"]) == 100
    assert links(default)["self"] == "/v3.0/users"


def test_a_limit_above_10000_is_refused_with_413(sim_http: httpx.Client) -> None:
    response = sim_http.get("/v3.0/sections", params={"limit": 10001})

    assert response.status_code == 413
    assert "10000" in response.json()["message"]


def test_every_data_response_carries_lowercase_rate_limit_headers(sim_http: httpx.Client) -> None:
    response = sim_http.get("/v3.0/districts")

    raw_names = {name.decode() for name, _ in response.headers.raw}
    assert {"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-ratelimit-bucket"} <= raw_names
    assert response.headers["x-ratelimit-limit"] == "1200"
    assert int(response.headers["x-ratelimit-reset"]) > time.time()


def test_past_the_window_limit_clever_answers_429_with_an_empty_body(
    sim_http: httpx.Client, simulator: Simulator
) -> None:
    simulator.limiter.limit = 3
    answers = [sim_http.get("/v3.0/districts") for _ in range(5)]

    assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
    assert answers[3].content == b""
    assert answers[3].headers["x-ratelimit-remaining"] == "0"
    assert simulator.stats()["rateLimit"]["refused"] == 2


def test_the_district_token_comes_from_oauth_tokens_with_basic_auth(
    sim_server: ThreadedServer, simulator: Simulator
) -> None:
    good = base64.b64encode(b"sim-client-id:sim-client-secret").decode()
    with httpx.Client(base_url=sim_server.url) as client:
        ok = client.get(
            "/oauth/tokens",
            params={"owner_type": "district", "district": simulator.district_id},
            headers={"Authorization": f"Basic {good}"},
        )
        other = client.get(
            "/oauth/tokens",
            params={"owner_type": "district", "district": "0" * 24},
            headers={"Authorization": f"Basic {good}"},
        )
        wrong = {"Authorization": "Basic " + base64.b64encode(b"sim-client-id:wrong").decode()}
        refused = client.get("/oauth/tokens", params={"owner_type": "district"}, headers=wrong)
        info = client.get("/oauth/tokeninfo", headers={"Authorization": f"Bearer {simulator.token}"})

    (entry,) = ok.json()["data"]
    assert entry["owner"] == {"type": "district", "id": simulator.district_id}
    assert entry["access_token"] == simulator.token
    assert other.json()["data"] == []
    assert refused.status_code == 401
    assert info.json()["client_id"] == "sim-client-id"


def test_a_revoked_token_is_refused_and_its_successor_comes_from_oauth(
    sim_http: httpx.Client, simulator: Simulator
) -> None:
    old = simulator.token
    sim_http.post("/__sim/revoke-token")

    assert sim_http.get("/v3.0/districts").status_code == 401
    assert simulator.token != old
    assert sim_http.get("/v3.0/districts", headers={"Authorization": f"Bearer {simulator.token}"}).status_code == 200


def test_nested_endpoints_follow_the_section_and_user_relations(sim_http: httpx.Client, simulator: Simulator) -> None:
    section = next(
        s for s in simulator.store.collections["sections"].objects.values() if s["students"] and s["teachers"]
    )
    members = sim_http.get(f"/v3.0/sections/{section['id']}/users", params={"role": "student"}).json()
    course = sim_http.get(f"/v3.0/sections/{section['id']}/course").json()
    student = section["students"][0]
    teachers = sim_http.get(f"/v3.0/users/{student}/myteachers").json()
    sections = sim_http.get(f"/v3.0/users/{student}/sections", params={"limit": 1000}).json()
    single = sim_http.get(f"/v3.0/sections/{section['id']}").json()

    assert ids(members) == sorted(section["students"])
    assert course["data"]["id"] == section["course"]
    assert set(section["teachers"]) <= set(ids(teachers))
    assert section["id"] in ids(sections)
    assert {"self", "district", "school", "course", "users"} <= set(links(single))


def test_the_seeded_edge_cases_are_present(simulator: Simulator) -> None:
    users = simulator.store.collections["users"].objects.values()
    sections = simulator.store.collections["sections"].objects.values()

    assert any({"teacher", "staff"} <= set(u["roles"]) for u in users)
    assert any("contact" in u["roles"] and "first" not in u["name"] for u in users)
    assert any("student" in u["roles"] and "email" not in u for u in users)
    assert any(len(u["roles"].get("student", {}).get("schools", [])) > 1 for u in users)
    assert any(s["teacher"] is None and len(s["teachers"]) > 1 for s in sections)
    assert any(s["teacher"] is not None and len(s["teachers"]) > 1 for s in sections)


def test_fault_bursts_answer_5xx_and_429_then_recover(sim_http: httpx.Client) -> None:
    sim_http.post("/__sim/faults", json={"error_every": 5, "error_burst": 2, "throttle_every": 8, "throttle_burst": 1})
    statuses = [sim_http.get("/v3.0/districts").status_code for _ in range(8)]
    sim_http.post("/__sim/faults", json={"error_every": 0, "throttle_every": 0})

    assert statuses == [200, 200, 200, 200, 503, 503, 200, 429]
    assert sim_http.get("/v3.0/districts").status_code == 200


def test_a_page_can_lose_its_next_link(sim_http: httpx.Client) -> None:
    sim_http.post("/__sim/faults", json={"missing_next_every": 2})
    first = sim_http.get("/v3.0/users", params={"limit": 10}).json()
    second = sim_http.get(links(first)["next"]).json()

    assert "next" in links(first)
    assert "next" not in links(second)
    assert len(second["data"]) == 10


def test_slow_pages_take_their_time(sim_http: httpx.Client) -> None:
    sim_http.post("/__sim/faults", json={"slow_every": 1, "slow_seconds": 0.3})
    started = time.perf_counter()
    sim_http.get("/v3.0/districts")

    assert time.perf_counter() - started >= 0.3


def test_churn_records_events_with_previous_attributes_inside_data(
    sim_http: httpx.Client, simulator: Simulator
) -> None:
    result = sim_http.post("/__sim/churn", json={"percent": 5, "seed": 2}).json()
    page = sim_http.get("/v3.0/events", params={"limit": 10000}).json()
    events = [item["data"] for item in page["data"]]
    updated = next(e for e in events if e["type"] == "users.updated")

    assert result["events"] == len(events) > 0
    assert ids(page) == sorted(ids(page))
    assert {e["type"].split(".")[0] for e in events} >= {"users", "sections"}
    assert {e["type"].split(".")[1] for e in events} >= {"created", "updated", "deleted"}
    assert "previous_attributes" in updated["data"]
    assert "previous_attributes" not in updated
    assert links(sim_http.get("/v3.0/events").json())["self"] == "/v3.0/events?"
    assert simulator.store.roster_counts() == result["counts"]
