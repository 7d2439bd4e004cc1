"""What the provider rules refuse. Messages never carry a config value (it may be a secret)."""

from __future__ import annotations

import uuid
from typing import Any


class ProviderError(Exception):
    pass


class ProviderNotFound(ProviderError):
    pass


class ConfigUnreadable(ProviderError):
    """The stored config opens with none of the configured keys."""


class InvalidProvider(ProviderError):
    """Bad fields, as pydantic lists them: `loc` (a path of wire names, e.g. ("config",
    "baseUrl")) and `msg`."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors

    @classmethod
    def field(cls, *loc: str, msg: str) -> InvalidProvider:
        return cls([{"loc": loc, "msg": msg}])


class SyncActive(ProviderError):
    """A sync of the provider (`run_id`) is pending or in progress."""

    def __init__(self, run_id: uuid.UUID) -> None:
        super().__init__(f"sync {run_id} is active")
        self.run_id = run_id
