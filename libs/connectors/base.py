"""The one interface every provider connector implements.

A run asks its connector for a plan (the extract steps, which may be partitions of one entity
type and run in parallel on several workers), then asks for each step's extraction: a stream
of canonical records and record errors which, once exhausted, reports per entity type whether
the stream was complete and whether it was a full snapshot or a delta. Connectors know nothing
of the database or of Dramatiq.
"""

from __future__ import annotations

import abc
import tempfile
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel, ConfigDict

from libs.connectors.egress import STRICT, EgressPolicy
from libs.connectors.records import Item
from libs.enums import EntityType, ProviderType, SyncMode


class FeedMode(StrEnum):
    """What a stream of one entity type means for records it does not contain."""

    FULL = "full"  # a complete snapshot: absent records left the SIS (subject to the guards)
    DELTA = "delta"  # only changes: absent records are untouched, tombstones deactivate
    ABSENT = "absent"  # not supplied at all: the entity type is left untouched
    # the same records the provider's last run applied (libs/etl/unchanged.py): nothing to stage,
    # nothing absent
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class ExtractStep:
    """One unit of extraction. `name` is unique within a run and stable across retries."""

    name: str
    entity_types: tuple[EntityType, ...]
    params: Mapping[str, str] = field(default_factory=dict)
    # the step keeps a CPU busy (parsing a file) rather than waiting on a server: worker processes
    # take one such step at a time, so parallel steps of this kind land on different processes
    cpu_bound: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "entity_types": [e.value for e in self.entity_types],
            "params": dict(self.params),
            "cpu_bound": self.cpu_bound,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ExtractStep:
        return cls(
            name=str(data["name"]),
            entity_types=tuple(EntityType(e) for e in data["entity_types"]),
            params={str(k): str(v) for k, v in dict(data.get("params") or {}).items()},
            cpu_bound=bool(data.get("cpu_bound", False)),
        )


@dataclass
class EntityOutcome:
    mode: FeedMode = FeedMode.FULL
    complete: bool = True
    # why the stream is incomplete, or what else the admin should know
    message: str | None = None
    # DELTA enrollments only: class external ids whose enrollments this feed lists completely
    # (e.g. a Clever section.updated event carries the section's whole roster), so enrollments
    # of those classes missing from the feed are deactivated too
    complete_classes: frozenset[str] | None = None


class Extraction(abc.ABC):
    """An iterable of records and record errors; `outcomes` and `source` are final once exhausted."""

    def __init__(self, step: ExtractStep) -> None:
        self.step = step
        self.outcomes: dict[EntityType, EntityOutcome] = {e: EntityOutcome() for e in step.entity_types}
        # what was read: package name/size/sha256, pages, requests, retries
        self.source: dict[str, Any] = {}

    @abc.abstractmethod
    def __iter__(self) -> Iterator[Item]: ...

    def mark_incomplete(self, entity_type: EntityType, message: str) -> None:
        outcome = self.outcomes.setdefault(entity_type, EntityOutcome())
        outcome.complete = False
        outcome.message = message


@dataclass(frozen=True)
class ConnectionResult:
    success: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class ConnectorContext:
    """What a connector may know about the run and the process it runs in."""

    provider_id: uuid.UUID | str
    tenant_id: str = ""
    mode: SyncMode = SyncMode.FULL
    options: Mapping[str, Any] = field(default_factory=dict)
    # the bookmark left by the last successful run (events id, last modified time...)
    cursor: Mapping[str, Any] = field(default_factory=dict)
    # a redis.Redis for the shared request budget; None means "this process only"
    redis: Any = None
    redis_namespace: str = "sis-sync"
    allow_local_paths: bool = False
    work_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()))
    # tests and simulators inject a transport; production leaves it None
    http_transport: httpx.BaseTransport | None = None
    # where connections may go (HTTP and SFTP); the engine and the API's connection test build it
    # from the settings (EgressPolicy.from_settings). The default refuses private hosts
    egress: EgressPolicy = STRICT
    # SFTP_KEY_DIR: sftp.privateKeyPath names a file in <sftp_key_dir>/<tenant_id>/; None refuses key paths
    sftp_key_dir: Path | None = None
    # the end of a connection test (time.monotonic()): no socket or wait of the connector lasts past it
    deadline: float | None = None
    # SOURCE_RETRY_BUDGET_SECONDS: what one request, and one extract step, may spend retrying; None: no budget
    retry_budget_seconds: float | None = None
    # CSV_MAX_UNCOMPRESSED_BYTES: a zip package that would expand past this is refused; None: no limit
    csv_max_uncompressed_bytes: int | None = None


class ProviderConfig(BaseModel):
    """Base for each provider's config model. Unknown fields are an error, not silently kept.

    Text fields are `libs.text` types (no control characters); values are kept as sent, so that
    the JSON schema, which says what is accepted, holds for the value itself.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # dotted paths of fields holding secrets: encrypted at rest, masked in every response
    secret_fields: ClassVar[tuple[str, ...]] = ()
    # dotted paths of fields saying where the secrets are sent (host, port, account): an edit that
    # changes one must carry every stored secret again, so none follows a changed destination
    destination_fields: ClassVar[tuple[str, ...]] = ()


class Connector(abc.ABC):
    provider_type: ClassVar[ProviderType]
    config_model: ClassVar[type[ProviderConfig]]

    def __init__(self, config: ProviderConfig, context: ConnectorContext) -> None:
        self.config = config
        self.context = context

    @abc.abstractmethod
    def test_connection(self) -> ConnectionResult: ...

    @abc.abstractmethod
    def plan(self) -> list[ExtractStep]:
        """The extract steps of a run (may call the source, e.g. to list schools for partitions)."""

    @abc.abstractmethod
    def extract(self, step: ExtractStep) -> Extraction: ...

    def next_cursor(self, extractions: list[Mapping[str, Any]]) -> dict[str, Any]:
        """The bookmark to remember after a successful run, from the steps' `source` dicts."""
        return {}

    def close(self) -> None:  # noqa: B027 - optional hook, most connectors hold nothing
        """Release network clients and temporary files."""


__all__ = [
    "ConnectionResult",
    "Connector",
    "ConnectorContext",
    "EntityOutcome",
    "ExtractStep",
    "Extraction",
    "FeedMode",
    "ProviderConfig",
]
