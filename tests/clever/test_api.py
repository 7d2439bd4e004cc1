"""How the connector talks to Clever: token, paging, errors (httpx.MockTransport, no sockets)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from libs.connectors.base import ConnectorContext, FeedMode
from libs.connectors.clever.api import CleverApi
from libs.connectors.clever.config import CleverConfig
from libs.connectors.clever.connector import CleverConnector
from libs.connectors.errors import AuthError, NotFoundError, ProtocolError
from libs.connectors.records import School
from libs.enums import EntityType

DISTRICT = "5940d254203e37907e0000f0"
Handler = Callable[[httpx.Request], httpx.Response]


def oid(n: int) -> str:
    return f"{n:024x}"


def page(items: list[dict[str, Any]], *links: tuple[str, str]) -> httpx.Response:
    body = {"data": [{"data": item, "uri": f"/v3.0/x/{item['id']}"} for item in items]}
    body["links"] = [{"rel": rel, "uri": uri} for rel, uri in links]
    return httpx.Response(200, json=body)


@pytest.fixture
def make_api() -> Iterator[Callable[..., CleverApi]]:
    made: list[CleverApi] = []

    def make(handler: Handler, **config: Any) -> CleverApi:
        settings = {"districtId": DISTRICT, "accessToken": "tok", **config}
        context = ConnectorContext(provider_id="p", http_transport=httpx.MockTransport(handler))
        made.append(CleverApi(CleverConfig.model_validate(settings), context))
        return made[-1]

    yield make
    for api in made:
        api.close()


def test_without_a_token_the_district_token_is_fetched_with_basic_auth(make_api: Callable[..., CleverApi]) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/oauth/tokens":
            tokens = [{"owner": {"type": "district", "id": DISTRICT}, "access_token": "district-token"}]
            return httpx.Response(200, json={"data": tokens, "links": []})
        return page([])

    api = make_api(handler, accessToken=None, clientId="cid", clientSecret="csecret")
    list(api.listing("/schools"))

    token_request, data_request = seen
    assert token_request.url.host == "clever.com"
    assert dict(token_request.url.params) == {"owner_type": "district", "district": DISTRICT}
    assert token_request.headers["authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert data_request.url.host == "api.clever.com"
    assert data_request.headers["authorization"] == "Bearer district-token"


def test_rejected_client_credentials_say_so(make_api: Callable[..., CleverApi]) -> None:
    api = make_api(lambda r: httpx.Response(401), accessToken=None, clientId="cid", clientSecret="bad")

    with pytest.raises(AuthError, match="rejected the client id and secret"):
        list(api.listing("/schools"))


def test_a_district_that_never_authorized_the_app_has_no_token(make_api: Callable[..., CleverApi]) -> None:
    other = [{"owner": {"type": "district", "id": "someone-else"}, "access_token": "x"}]
    credentials = {"accessToken": None, "clientId": "c", "clientSecret": "s"}
    api = make_api(lambda r: httpx.Response(200, json={"data": other}), **credentials)

    with pytest.raises(NotFoundError, match=f"no token for district {DISTRICT}"):
        list(api.listing("/schools"))


def test_a_revoked_token_is_replaced_once_from_the_client_credentials(make_api: Callable[..., CleverApi]) -> None:
    tokens = iter(["first", "second"])

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/tokens":
            return httpx.Response(200, json={"data": [{"owner": {"id": DISTRICT}, "access_token": next(tokens)}]})
        if request.headers["authorization"] == "Bearer first":
            return httpx.Response(401, json={"message": "invalid token"})
        return page([{"id": oid(1)}])

    api = make_api(handler, accessToken=None, clientId="c", clientSecret="s")

    assert [len(p.items) for p in api.listing("/schools")] == [1]
    assert api.current_token == "second"


def test_next_links_are_joined_to_the_host_not_to_the_versioned_base(make_api: Callable[..., CleverApi]) -> None:
    paths: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        paths.append(str(request.url))
        if "starting_after" not in request.url.params:
            return page([{"id": oid(1)}], ("self", "/v3.0/users"), ("next", f"/v3.0/users?starting_after={oid(1)}"))
        return page([{"id": oid(2)}], ("self", "/v3.0/users"))

    api = make_api(handler, pageSize=1000)
    items = [item["id"] for p in api.listing("/users") for item in p.items]

    assert items == [oid(1), oid(2)]
    assert paths == [
        "https://api.clever.com/v3.0/users?limit=1000",
        f"https://api.clever.com/v3.0/users?starting_after={oid(1)}",
    ]


def test_an_empty_trailing_page_ends_the_list_even_with_a_next_link(make_api: Callable[..., CleverApi]) -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        after = request.url.params.get("starting_after")
        items = [] if after else [{"id": oid(1)}, {"id": oid(2)}]
        return page(items, ("next", f"/v3.0/sections?starting_after={oid(9 if after else 2)}"))

    listing = make_api(handler, pageSize=2).listing("/sections")

    assert [len(p.items) for p in listing] == [2, 0]
    assert calls == 2


def test_a_full_page_without_a_next_link_is_followed_up_rather_than_taken_as_the_end(
    make_api: Callable[..., CleverApi],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        after = request.url.params.get("starting_after")
        if after is None:
            return page([{"id": oid(1)}, {"id": oid(2)}], ("self", "/v3.0/users?limit=2"))  # next is missing
        if after == oid(2):
            return page([{"id": oid(3)}], ("self", "/v3.0/users"))
        raise AssertionError(after)

    listing = make_api(handler, pageSize=2).listing("/users", {"role": "student"})
    ids = [item["id"] for p in listing for item in p.items]

    assert ids == [oid(1), oid(2), oid(3)]
    assert listing.missing_next == 1


def test_a_short_page_with_a_next_link_is_not_the_end(make_api: Callable[..., CleverApi]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.params.get("starting_after") is None:
            return page([{"id": oid(1)}], ("next", f"/v3.0/users?starting_after={oid(1)}"))
        return page([{"id": oid(2)}])

    ids = [item["id"] for p in make_api(handler, pageSize=100).listing("/users") for item in p.items]

    assert ids == [oid(1), oid(2)]


def test_a_next_link_that_loops_is_a_protocol_error(make_api: Callable[..., CleverApi]) -> None:
    api = make_api(lambda r: page([{"id": oid(1)}], ("next", "/v3.0/users?limit=10000")))

    with pytest.raises(ProtocolError, match="points back"):
        list(api.listing("/users"))


@pytest.mark.parametrize(
    ("response", "error", "text"),
    [
        (httpx.Response(413, text="Request entity too large"), ProtocolError, "pageSize must be at most 10000"),
        (httpx.Response(200, html="<html>maintenance</html>"), ProtocolError, "HTML page instead of JSON"),
        (httpx.Response(200, content=b""), ProtocolError, "empty body instead of JSON"),
        (httpx.Response(401, content=b""), AuthError, "refused the access token (HTTP 401)"),
        (httpx.Response(404, html="<pre>Cannot GET /v3.0/schools</pre>"), AuthError, "not a district-app token"),
        (httpx.Response(404, json={"message": "Not Found"}), NotFoundError, "does not exist (HTTP 404): Not Found"),
        (httpx.Response(400, json={"message": "bad limit"}), ProtocolError, "HTTP 400"),
    ],
)
def test_error_answers_become_typed_errors_with_clear_messages(
    make_api: Callable[..., CleverApi], response: httpx.Response, error: type[Exception], text: str
) -> None:
    api = make_api(lambda r: response, accessToken="secret-token-value")

    with pytest.raises(error) as caught:
        list(api.listing("/schools"))

    assert text in str(caught.value)
    assert "secret-token-value" not in str(caught.value)


def _connector(handler: Handler, **context: Any) -> CleverConnector:
    config = CleverConfig.model_validate({"districtId": DISTRICT, "accessToken": "tok"})
    return CleverConnector(
        config, ConnectorContext(provider_id="p", http_transport=httpx.MockTransport(handler), **context)
    )


def test_ids_that_do_not_ascend_leave_the_stream_incomplete() -> None:
    conn = _connector(lambda r: page([{"id": oid(2), "name": "b"}, {"id": oid(1), "name": "a"}]))
    extraction = conn.extract(next(s for s in conn.plan() if s.name == "schools"))

    schools = list(extraction)
    conn.close()

    assert [s.external_id for s in schools if isinstance(s, School)] == [oid(2)]
    outcome = extraction.outcomes[EntityType.SCHOOL]
    assert not outcome.complete
    assert outcome.message is not None
    assert "out of id order" in outcome.message
    assert outcome.mode == FeedMode.FULL


def test_the_step_source_counts_requests_and_pages() -> None:
    conn = _connector(lambda r: page([{"id": oid(1)}]))
    extraction = conn.extract(next(s for s in conn.plan() if s.name == "schools"))
    list(extraction)
    conn.close()

    assert extraction.source["requests"]["requests"] == 1
    assert extraction.source["requests"]["retries"] == 0
    assert extraction.source["pages"] == 1
    assert extraction.source["lists"]["/v3.0/schools"] == {"pages": 1, "items": 1, "missingNext": 0, "outOfOrder": 0}


def test_connection_errors_are_told_apart() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    unreachable = _connector(refuse).test_connection()
    bad_token = _connector(lambda r: httpx.Response(401)).test_connection()
    empty = _connector(lambda r: httpx.Response(200, json={"data": [], "links": []})).test_connection()

    assert not unreachable.success
    assert unreachable.details["reason"] == "network"
    assert "Could not reach Clever (api.clever.com)" in unreachable.message
    assert bad_token.details["reason"] == "credentials"
    assert "refused the access token" in bad_token.message
    assert empty.details["reason"] == "district"
    assert "0 districts" in empty.message


def test_connection_succeeds_for_exactly_the_configured_district() -> None:
    district = {"id": DISTRICT, "name": "Springfield", "state": "running", "last_sync": None}
    result = _connector(lambda r: page([district], ("self", "/v3.0/districts"))).test_connection()

    assert result.success
    assert result.message == "Successfully connected to Clever"
    assert result.details["district"]["name"] == "Springfield"


def test_source_payloads_parse_as_json_in_steps() -> None:
    # the engine stores `source` on the run as JSON
    conn = _connector(lambda r: page([{"id": oid(1)}]))
    extraction = conn.extract(conn.plan()[0])
    list(extraction)
    conn.close()

    assert json.loads(json.dumps(extraction.source)) == extraction.source
