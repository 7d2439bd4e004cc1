"""Engine tests run the phases in-process, message by message, against real Postgres."""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine

from libs.connectors import registry
from libs.connectors.records import Record
from libs.enums import ProviderType
from libs.etl import pipeline
from libs.etl.context import EtlContext
from libs.etl.phase import CANCEL_SYNC, START_SYNC, Next, Phase, start_sync
from libs.settings import Settings
from tests.etl.memory import Dataset, MemoryConnector
from tests.support.providers import assert_stats_add_up, create_provider, request, run_row


class Driver:
    """Delivers messages to the phase functions in order, as one worker thread would."""

    def __init__(self, ctx: EtlContext) -> None:
        self.ctx = ctx
        self.delivered: list[Next] = []

    def deliver(self, message: Next) -> list[Next]:
        self.delivered.append(message)
        if message.actor == START_SYNC:
            return pipeline.start(self.ctx, *message.args)
        if message.actor == CANCEL_SYNC:
            return pipeline.cancel(self.ctx, *message.args)
        phase = next(p for p in Phase if p.actor == message.actor)
        return pipeline.run_phase(self.ctx, phase, *message.args)

    def drain(self, pending: list[Next], *, stop_before: str | None = None) -> list[Next]:
        queue = deque(pending)
        while queue:
            message = queue.popleft()
            if stop_before is not None and message.actor == stop_before:
                return [message, *queue]
            queue.extend(self.deliver(message))
        return []

    def sync(self, provider_id: uuid.UUID, **kwargs: Any) -> uuid.UUID:
        requested = request(self.ctx.engine, provider_id, **kwargs)
        self.drain([start_sync(requested.run_id)])
        assert_stats_add_up(run_row(self.ctx.engine, requested.run_id))
        return requested.run_id


@pytest.fixture
def ctx(settings: Settings, db: Engine) -> EtlContext:
    return EtlContext(settings=settings, engine=db, cipher=_cipher(settings), redis=None)


def _cipher(settings: Settings) -> Any:
    from libs.db.dev_secrets import config_cipher

    return config_cipher(settings)


@pytest.fixture
def driver(ctx: EtlContext) -> Driver:
    return Driver(ctx)


@pytest.fixture
def memory_connector(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[MemoryConnector]]:
    monkeypatch.setitem(registry._CONNECTORS, ProviderType.ONEROSTER_CSV, "tests.etl.memory:MemoryConnector")
    MemoryConnector.datasets.clear()
    yield MemoryConnector
    MemoryConnector.datasets.clear()


@pytest.fixture
def make_provider(ctx: EtlContext, memory_connector: type[MemoryConnector]) -> Callable[..., tuple[uuid.UUID, Dataset]]:
    def make(records: list[Record], *, tenant_id: str = "district-1", **kwargs: Any) -> tuple[uuid.UUID, Dataset]:
        key = uuid.uuid4().hex
        dataset = Dataset.of(records)
        memory_connector.datasets[key] = dataset
        provider_id = create_provider(
            ctx.engine,
            ctx.settings,
            provider_type=ProviderType.ONEROSTER_CSV,
            config={"dataset": key},
            tenant_id=tenant_id,
            **kwargs,
        )
        return provider_id, dataset

    return make
