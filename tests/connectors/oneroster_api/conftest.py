from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.oneroster_api.config import OneRosterApiConfig
from libs.connectors.oneroster_api.connector import OneRosterApiConnector
from tests.connectors.oneroster_api.fake import BASE_URL, FakeServer


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


@pytest.fixture
def make_connector(server: FakeServer) -> Iterator[Callable[..., OneRosterApiConnector]]:
    made: list[OneRosterApiConnector] = []

    def make(context: dict[str, Any] | None = None, **config: Any) -> OneRosterApiConnector:
        values = {"baseUrl": BASE_URL, "clientId": "client-1", "clientSecret": "s3cret", **config}
        connector = OneRosterApiConnector(
            OneRosterApiConfig.model_validate(values),
            ConnectorContext(provider_id="p1", http_transport=server.transport(), **(context or {})),
        )
        made.append(connector)
        return connector

    yield make
    for connector in made:
        connector.close()
