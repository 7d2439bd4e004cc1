"""The connector error hierarchy: one `except ConnectorError` catches everything a source can do.

    ConnectorError
    ├── ConfigError          the provider config cannot work (bad URL, missing key, unsafe path)
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


__all__ = [
    "AuthError",
    "ConfigError",
    "ConnectorError",
    "NotFoundError",
    "PackageError",
    "ProtocolError",
    "ProviderUnavailable",
    "RateLimited",
]
