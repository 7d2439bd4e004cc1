"""The connector error hierarchy: one `except ConnectorError` catches everything a source can do.

    ConnectorError
    ├── ConfigError          the provider config cannot work (bad URL, missing key, unsafe path)
    │   └── EgressRefused    the host resolves to an address providers may not reach
    ├── AuthError            credentials, signature, token or host key refused
    ├── NotFoundError        the configured district / tenant / path / base URL does not exist
    ├── RateLimited          the source kept saying "slow down" past the bounded wait
    ├── ProviderUnavailable  network failures or server errors past the retry budget
    ├── ProtocolError        the source answered something that is not its protocol
    └── PackageError         a file package (OneRoster CSV) is unusable as a whole

The engine maps each to a run status and a message meant for a district admin; the API maps
them to problem JSON. Messages never contain secrets.
"""

from __future__ import annotations

import re

# how much of what a source said (an error description, a status text) a message may quote
REASON_LIMIT = 80
_ERROR_CODE = re.compile(r"^[A-Za-z0-9_.:-]{1,40}$")


class ConnectorError(Exception):
    """Base class. `message` is shown to admins as is; `retriable` guides the worker."""

    retriable = False

    def __init__(
        self, message: str, *, details: dict[str, object] | None = None, retriable: bool | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}
        if retriable is not None:
            # an instance may know better than its class (e.g. a TLS failure is no passing outage)
            self.retriable = retriable


class ConfigError(ConnectorError):
    pass


class EgressRefused(ConfigError):
    """The egress policy refused the destination; no connection was attempted."""


class AuthError(ConnectorError):
    pass


class NotFoundError(ConnectorError):
    pass


class RateLimited(ConnectorError):
    retriable = True


class ProviderUnavailable(ConnectorError):
    retriable = True


class ProtocolError(ConnectorError):
    pass


class PackageError(ConnectorError):
    pass


def short_reason(text: str | None, *, secret: str = "", limit: int = REASON_LIMIT) -> str:
    """A source's own words fit for a message: one line of printable text, at most `limit` characters.

    Whatever a server says reaches an admin (and, through connection tests, whoever chose the
    URL) only this way: never a page of a body, never a secret it quotes back.
    """
    if not text:
        return ""
    if secret:
        text = text.replace(secret, "********")
    line = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "\u2026"


def error_code(text: str | None) -> str | None:
    """A source's error code (`invalid_client`, `unauthorized`) when it looks like one, else None."""
    return text if text and _ERROR_CODE.match(text) else None


__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectorError",
    "EgressRefused",
    "NotFoundError",
    "PackageError",
    "ProtocolError",
    "ProviderUnavailable",
    "RateLimited",
    "error_code",
    "short_reason",
]
