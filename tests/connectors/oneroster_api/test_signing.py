"""OAuth 1.0a signing as OneRoster 1.1 servers (ClassLink) verify it."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import httpx
import pytest

from libs.connectors.http.oauth import OAuth1Signer
from libs.connectors.oneroster_api.paging import encode_query

NONCE = "kllo9940pd9333jh"
TIMESTAMP = "1191242096"
KEY = "classlink-client"
SECRET = "a secret/with+odd&chars"
# the reference's worked request: every query parameter, a filter with quotes, spaces and '>'
QUERY = {
    "limit": "100",
    "offset": "0",
    "filter": "dateLastModified>'2024-01-01T00:00:00Z' AND status='active'",
}
URL = "https://District-TX-v2.RosterServer.com:443/ims/oneroster/v1p1/users?" + encode_query(QUERY)


def pct(value: str) -> str:
    return quote(value, safe="~-._")


def independent_signature(method: str, url: str, digest: str) -> str:
    """ClassLink's algorithm, written out from the reference (§2.6), without oauthlib."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port and parts.port not in (80, 443) else ""
    base_uri = f"{parts.scheme.lower()}://{host.lower()}{port}{parts.path}"
    params = [(unquote(k), unquote(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    params += [
        ("oauth_consumer_key", KEY),
        ("oauth_nonce", NONCE),
        ("oauth_signature_method", f"HMAC-{digest.upper()}"),
        ("oauth_timestamp", TIMESTAMP),
        ("oauth_version", "1.0"),
    ]
    normalized = "&".join(f"{k}={v}" for k, v in sorted((pct(k), pct(v)) for k, v in params))
    base_string = "&".join([method, pct(base_uri), pct(normalized)])
    key = f"{pct(SECRET)}&".encode()
    mac = hmac.new(key, base_string.encode(), getattr(hashlib, digest))
    return base64.b64encode(mac.digest()).decode()


def header_fields(header: str) -> dict[str, str]:
    assert header.startswith("OAuth ")
    fields = {}
    for part in header.removeprefix("OAuth ").split(", "):
        name, _, value = part.partition("=")
        fields[name] = unquote(value.strip('"'))
    return fields


@pytest.mark.parametrize(("method", "digest"), [("HMAC-SHA256", "sha256"), ("HMAC-SHA1", "sha1")])
def test_signature_equals_the_one_computed_independently(method: str, digest: str) -> None:
    signer = OAuth1Signer(KEY, SECRET, signature_method=method, nonce=NONCE, timestamp=TIMESTAMP)

    fields = header_fields(signer.authorization("GET", URL))

    assert fields["oauth_signature_method"] == method
    assert fields["oauth_consumer_key"] == KEY
    assert fields["oauth_nonce"] == NONCE
    assert fields["oauth_timestamp"] == TIMESTAMP
    assert fields["oauth_signature"] == independent_signature("GET", URL, digest)


def test_signature_covers_every_query_parameter() -> None:
    signer = OAuth1Signer(KEY, SECRET, nonce=NONCE, timestamp=TIMESTAMP)
    first = header_fields(signer.authorization("GET", URL))["oauth_signature"]
    next_page = URL.replace("offset=0", "offset=100")

    assert header_fields(signer.authorization("GET", next_page))["oauth_signature"] != first


def test_the_signed_url_is_the_url_httpx_sends() -> None:
    signer = OAuth1Signer(KEY, SECRET, nonce=NONCE, timestamp=TIMESTAMP)
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with httpx.Client(transport=httpx.MockTransport(handler), auth=signer) as client:
        client.get(URL)

    fields = header_fields(sent[0].headers["authorization"])
    assert fields["oauth_signature"] == independent_signature("GET", str(sent[0].url), "sha256")
    assert fields["oauth_signature"] == independent_signature("GET", URL, "sha256")


def test_a_fresh_nonce_and_timestamp_for_every_request() -> None:
    signer = OAuth1Signer(KEY, SECRET)
    one = header_fields(signer.authorization("GET", URL))
    two = header_fields(signer.authorization("GET", URL))

    assert one["oauth_nonce"] != two["oauth_nonce"]
    assert one["oauth_timestamp"].isdigit()
