"""Text the service accepts from a client: one string type per kind of field, its rule and its schema.

Control characters (C0 and DEL) are refused in every text field: Postgres cannot store NUL, and
none of them belongs in a name, an id, a URL or a path. Only a multi-line field (a PEM key) keeps
tab and line breaks. Lone surrogates are refused too: they cannot be encoded for storage. Each
type also puts its rule in the JSON schema as a `pattern`, so the OpenAPI document says what the
server accepts.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
CONTROL_MESSAGE = "must not contain control characters (NUL, line breaks, tabs, DEL)"

_PORT = r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
# a DNS name or IPv4 address, or an IPv6 literal in brackets; no user:password@ (credentials go
# in their own secret fields, where they are encrypted and masked, never in a URL)
_H16 = "[0-9A-Fa-f]{1,4}"
_OCTET = "(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LS32 = rf"(?:{_H16}:{_H16}|{_OCTET}(?:\.{_OCTET}){{3}})"
# RFC 3986 IPv6address: n groups before "::" and 6 - n after it (the last two may be an IPv4)
_IPV6 = "|".join(
    [rf"(?:{_H16}:){{6}}{_LS32}", rf"::(?:{_H16}:){{5}}{_LS32}"]
    + [rf"(?:(?:{_H16}:){{0,{n - 1}}}{_H16})?::(?:{_H16}:){{{5 - n}}}{_LS32}" for n in range(1, 6)]
    + [rf"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}", rf"(?:(?:{_H16}:){{0,6}}{_H16})?::"]
)
_HOST = rf"(?:{_LABEL}(?:\.{_LABEL})*\.?|\[(?:{_IPV6})\])"
HOST_URL_PATTERN = rf"^https?://{_HOST}{_PORT}/?$"
BASE_URL_PATTERN = rf"^https?://{_HOST}{_PORT}(?:/[^\x00-\x20\x7f?#]*)?$"
# a receiver's endpoint: a path and a query (which some receivers route on), no fragment
ENDPOINT_URL_PATTERN = rf"^https?://{_HOST}{_PORT}(?:[/?][^\x00-\x20\x7f#]*)?$"


class Text:
    """Annotated metadata: refuse control characters, then require `pattern`, refusing with `message`.

    Without a message the pattern only goes into the schema: a later validator enforces it with
    messages of its own (a schedule, a host key fingerprint).
    """

    def __init__(self, pattern: str = r"^[^\x00-\x1f\x7f]*$", message: str = "", *, multiline: bool = False) -> None:
        self.pattern = pattern
        self.message = message
        self._match = re.compile(pattern).search
        self._control = _CONTROL_MULTILINE if multiline else CONTROL

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = self.pattern
        return out

    def check(self, value: str) -> str:
        if self._control.search(value):
            raise ValueError(CONTROL_MESSAGE)
        if self.message and self._match(value) is None:
            raise ValueError(self.message)
        return value


def url_credentials_refused(value: str) -> str:
    """A URL's text unchanged, or ValueError when it carries user:password@ (never echoing it) or
    a bracketed host that is no IPv6 address."""
    authority = value.partition("://")[2].split("/", 1)[0]
    if "@" in authority:
        raise ValueError("must not carry credentials (user:password@); give them in their own fields")
    try:
        urlsplit(value)
    except ValueError:
        raise ValueError("must name its host as a DNS name, an IPv4 address or an IPv6 address in brackets") from None
    return value


# one line of text: names, ids, secrets, paths
Line = Annotated[str, Text()]
# several lines: a PEM or OpenSSH private key
Lines = Annotated[str, Text(r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$", multiline=True)]
_URL_HINT = "an http(s) URL such as https://sis.example.org/ims/oneroster/v1p1, without query or fragment"
# scheme, host and port only (Clever: its links carry their own path)
HostUrl = Annotated[
    str,
    AfterValidator(url_credentials_refused),
    Text(HOST_URL_PATTERN, "must be scheme and host only, such as https://api.clever.com"),
]
BaseUrl = Annotated[str, AfterValidator(url_credentials_refused), Text(BASE_URL_PATTERN, f"must be {_URL_HINT}")]
# a bearer token as it goes into an Authorization header: RFC 6750's b64token, ASCII only (a
# header cannot carry other characters, so any other token could never be sent)
BEARER_TOKEN_PATTERN = r"^[A-Za-z0-9._~+/-]+=*$"  # noqa: S105 - a rule, not a secret
BearerToken = Annotated[
    str,
    Text(
        BEARER_TOKEN_PATTERN,
        "must be a bearer token: ASCII letters, digits and - . _ ~ + / (then = padding), as RFC 6750 allows",
    ),
]

__all__ = [
    "BEARER_TOKEN_PATTERN",
    "CONTROL",
    "CONTROL_MESSAGE",
    "ENDPOINT_URL_PATTERN",
    "BaseUrl",
    "BearerToken",
    "HostUrl",
    "Line",
    "Lines",
    "Text",
    "url_credentials_refused",
]
