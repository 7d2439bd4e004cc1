"""The OneRoster simulator on a real socket, read by the real connector."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from libs.connectors.http.oauth import OAuth1Signer
from libs.enums import EntityType, ProviderType, SyncMode
from tests.simulators.oneroster.conftest import Served, run_connector
from tests.simulators.oneroster.district import churned, small_roster

EXPECTED = {"schools": 3, "terms": 2, "classes": 12, "users": 63, "enrollments": 252}


def signed(url: str) -> httpx.Request:
    header = OAuth1Signer("sis-sync", "sis-sync-secret").authorization("GET", url)
    return httpx.Request("GET", url, headers={"Authorization": header})


def test_a_signed_request_is_answered_and_a_tampered_one_is_refused(serve: Callable[..., Served]) -> None:
    served = serve()
    url = f"{served.base_url}/users?limit=5&offset=0"
    original = signed(url)
    tampered = httpx.Request("GET", url.replace("offset=0", "offset=5"), headers=original.headers)

    with httpx.Client() as plain:
        assert plain.send(original).status_code == 200
        refused = plain.send(tampered)

    assert refused.status_code == 401
    assert refused.json()["statusInfoSet"][0]["imsx_description"] == "invalid signature"


def test_a_replayed_request_is_refused(serve: Callable[..., Served]) -> None:
    served = serve()
    request = signed(f"{served.base_url}/orgs")

    with httpx.Client() as plain:
        assert plain.send(request).status_code == 200
        replay = plain.send(request)

    assert replay.status_code == 401
    assert "nonce" in replay.json()["statusInfoSet"][0]["imsx_description"]


def test_a_wrong_secret_is_refused(serve: Callable[..., Served]) -> None:
    served = serve()
    with httpx.Client(auth=OAuth1Signer("sis-sync", "wrong")) as client:
        assert client.get(f"{served.base_url}/orgs").status_code == 401


@pytest.mark.parametrize(
    ("provider", "flavour", "config"),
    [
        (ProviderType.ONEROSTER_API, "generic", {"auth": "oauth1"}),
        (ProviderType.ONEROSTER_API, "generic", {"auth": "oauth2"}),
        (ProviderType.CLASSLINK, "classlink", {}),
    ],
)
def test_every_flavour_yields_the_whole_district(
    serve: Callable[..., Served], provider: ProviderType, flavour: str, config: dict[str, str]
) -> None:
    served = serve(flavour=flavour)
    connector = served.connector(provider, **config)

    run = run_connector(connector)

    assert run.counts() == EXPECTED
    assert run.errors == []
    assert run.duplicates == 0
    assert all(run.complete(e) for e in EntityType)
    disabled = [u for u in run.records[EntityType.USER].values() if not getattr(u, "enabled", True)]
    assert len(disabled) == 6  # every tenth student, whatever way the flavour writes booleans
    assert served.simulator.stats.rejected == 0


def test_a_clamped_limit_without_link_header_fetches_every_page(serve: Callable[..., Served]) -> None:
    served = serve(max_limit=7, link_header=False)

    run = run_connector(served.connector(pageSize=1000))

    assert run.counts() == EXPECTED
    assert all(run.complete(e) for e in EntityType)
    assert served.simulator.stats.pages["users"] == 9  # 63 users, 7 a page


def test_a_total_that_grows_mid_extract_leaves_users_incomplete(serve: Callable[..., Served]) -> None:
    served = serve(max_limit=10)
    served.simulator.faults.update({"grow_after": {"users": 2}})

    run = run_connector(served.connector())

    assert not run.complete(EntityType.USER)
    assert run.complete(EntityType.ENROLLMENT)
    message = run.outcomes["users"][EntityType.USER].message or ""
    assert "total changed from 63 to 64" in message


def test_rate_limits_and_server_errors_change_nothing_but_the_time(serve: Callable[..., Served]) -> None:
    calm = run_connector(serve().connector())
    served = serve(max_limit=20)
    served.simulator.faults.update(
        {
            "rate_limit_every": 7,
            "rate_limit_burst": 2,
            "retry_after": 0,
            "server_error_every": 9,
            "server_error_burst": 2,
        }
    )

    stormy = run_connector(served.connector())

    assert served.simulator.stats.by_status[429] > 0
    assert served.simulator.stats.by_status[503] > 0
    assert {e: {k: r.row_hash() for k, r in recs.items()} for e, recs in stormy.records.items()} == {
        e: {k: r.row_hash() for k, r in recs.items()} for e, recs in calm.records.items()
    }
    assert all(stormy.complete(e) for e in EntityType)
    retried = sum(s["requests"]["retries"] for s in stormy.sources)
    assert (
        retried
        == served.simulator.stats.by_status[429]
        + served.simulator.stats.by_status[503]
        + (served.simulator.stats.by_status[502])
    )


def test_an_incremental_run_fetches_only_what_changed(serve: Callable[..., Served]) -> None:
    served = serve()
    full = run_connector(served.connector())
    cursor = served.connector().next_cursor(full.sources)
    report = served.simulator.replace(churned(small_roster()))
    served.simulator.reset_stats()

    delta = run_connector(served.connector(context={"mode": SyncMode.INCREMENTAL, "cursor": cursor}))

    assert report["users"] == {"added": 1, "changed": 1, "deleted": 0, "unchanged": 62}
    assert report["enrollments"] == {"added": 1, "changed": 0, "deleted": 1, "unchanged": 251}
    filtered = served.simulator.stats.filtered_records
    assert {name: count for name, count in filtered.items() if count} == {"users": 2, "enrollments": 2}
    users = delta.records[EntityType.USER]
    assert sorted(users) == ["stu-00-000", "stu-new"]
    enrollments = delta.records[EntityType.ENROLLMENT]
    assert {k: r.tombstone for k, r in enrollments.items()} == {"enr-cls-00-0-tch-00": True, "enr-new": False}
    assert delta.records.get(EntityType.SCHOOL, {}) == {}
