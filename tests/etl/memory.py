"""An in-memory connector for engine tests: records and outcomes are whatever the test says."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from libs.connectors.base import (
    ConnectionResult,
    Connector,
    Extraction,
    ExtractStep,
    FeedMode,
    ProviderConfig,
)
from libs.connectors.errors import ConnectorError
from libs.connectors.records import Item, Record
from libs.enums import LOAD_ORDER, EntityType, ProviderType


@dataclass
class Dataset:
    items: dict[EntityType, list[Item]] = field(default_factory=dict)
    modes: dict[EntityType, FeedMode] = field(default_factory=dict)
    incomplete: dict[EntityType, str] = field(default_factory=dict)
    # raise this error after yielding `fail_after` items of this entity type
    fail: tuple[EntityType, int, ConnectorError] | None = None
    complete_classes: frozenset[str] | None = None
    # called before each item is yielded (tests use it to act mid-extract)
    on_item: Any = None

    @classmethod
    def of(cls, records: list[Record]) -> Dataset:
        data = cls()
        for record in records:
            data.items.setdefault(record.entity_type, []).append(record)
        return data


class MemoryConfig(ProviderConfig):
    dataset: str


class MemoryConnector(Connector):
    provider_type = ProviderType.ONEROSTER_CSV
    config_model = MemoryConfig
    datasets: ClassVar[dict[str, Dataset]] = {}

    def test_connection(self) -> ConnectionResult:
        return ConnectionResult(success=True, message="ok")

    def plan(self) -> list[ExtractStep]:
        # one step per entity type, as an API connector would plan
        return [ExtractStep(name=e.plural, entity_types=(e,)) for e in LOAD_ORDER]

    def extract(self, step: ExtractStep) -> Extraction:
        assert isinstance(self.config, MemoryConfig)
        return _MemoryExtraction(step, self.datasets[self.config.dataset])


class _MemoryExtraction(Extraction):
    def __init__(self, step: ExtractStep, data: Dataset) -> None:
        super().__init__(step)
        self.data = data
        for entity in step.entity_types:
            outcome = self.outcomes[entity]
            outcome.mode = data.modes.get(entity, FeedMode.FULL)
            if entity is EntityType.ENROLLMENT and data.complete_classes is not None:
                outcome.complete_classes = data.complete_classes
            if entity in data.incomplete:
                self.mark_incomplete(entity, data.incomplete[entity])
        self.source = {"requests": {"requests": 1, "retries": 0}}

    def __iter__(self) -> Iterator[Item]:
        for entity in self.step.entity_types:
            for index, item in enumerate(self.data.items.get(entity, [])):
                if self.data.fail is not None and self.data.fail[0] is entity and index == self.data.fail[1]:
                    raise self.data.fail[2]
                if self.data.on_item is not None:
                    self.data.on_item(entity, index)
                yield item
