"""Fixtures for the Clever connector and simulator: recorded cassettes, spec, servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from libs.simulators.serving import ThreadedServer, serving
from tests.clever.replay import replay_app


@pytest.fixture(scope="session")
def clever_data(shared_data: Path) -> Path:
    return shared_data / "clever"


@pytest.fixture(scope="session")
def cassettes(clever_data: Path) -> Path:
    return clever_data / "clever_sdk" / "test" / "vcr" / "cassettes"


@pytest.fixture(scope="session")
def replay_server(cassettes: Path) -> Iterator[ThreadedServer]:
    with serving(replay_app(cassettes)) as server:
        yield server
