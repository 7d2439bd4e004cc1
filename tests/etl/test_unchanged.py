"""When a package counts as "applied by the provider's last run": only then is it not read again.

Each case starts from a last run that qualifies and breaks one condition; a package that skipped
a read it needed would leave the store behind the source with no one noticing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text

from libs.etl import unchanged
from libs.etl.providers import load_run
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request

DIGEST = "a" * 64


def _source(digest: str = DIGEST, engine: str | None = None) -> dict[str, Any]:
    return {"package": {"name": "export.zip", "sha256": digest}, "engine": engine or unchanged.engine_version()}


def _finish(db: Engine, run_id: uuid.UUID, status: str = "SUCCESS", **changes: Any) -> None:
    stats = changes.get("stats", {"users": {"received": 4, "unchanged": 4}})
    with db.begin() as conn:
        conn.execute(
            text(
                """
                UPDATE sis_sync_runs
                   SET status = :status, started_at = clock_timestamp(), completed_at = clock_timestamp(),
                       stats = CAST(:stats AS jsonb), source = CAST(:source AS jsonb)
                 WHERE id = :r
                """
            ),
            {
                "r": run_id,
                "status": status,
                "stats": json.dumps(stats),
                "source": json.dumps({"steps": {"package": changes.get("source", _source())}}),
            },
        )


@pytest.fixture
def provider_id(make_provider: Callable[..., tuple[uuid.UUID, Dataset]]) -> uuid.UUID:
    return make_provider(SmallDistrict(students=4).records())[0]


def _judge(db: Engine, provider_id: uuid.UUID, source: dict[str, Any] | None = None, **options: Any) -> Any:
    run_id = request(db, provider_id, options=options or None).run_id
    with db.connect() as conn:
        return unchanged.applied_before(conn, load_run(conn, run_id), "package", source or _source())


def test_the_package_the_last_successful_run_applied_is_unchanged(db: Engine, provider_id: uuid.UUID) -> None:
    last = request(db, provider_id).run_id
    _finish(db, last)
    applied = _judge(db, provider_id)
    assert applied is not None
    assert applied.run_id == last
    assert applied.received[next(e for e in applied.received if e.value == "user")] == 4


@pytest.mark.parametrize(
    ("case", "finish", "source", "options"),
    [
        ("another package", {}, _source("b" * 64), {}),
        ("no digest", {}, {"package": {"name": "x"}}, {}),
        ("another engine version", {"source": _source(engine="0.0.0-older")}, None, {}),
        ("the last run was partial", {"status": "PARTIAL"}, None, {}),
        ("the last run failed", {"status": "FAILURE"}, None, {}),
        ("the last run rejected records", {"stats": {"users": {"received": 4, "errors": 1}}}, None, {}),
        ("this run allows mass deactivation", {}, None, {"allowMassDeactivation": True}),
    ],
)
def test_anything_else_reads_the_package_again(
    db: Engine,
    provider_id: uuid.UUID,
    case: str,
    finish: dict[str, Any],
    source: dict[str, Any] | None,
    options: dict[str, Any],
) -> None:
    _finish(db, request(db, provider_id).run_id, **finish)
    assert _judge(db, provider_id, source, **options) is None, case


def test_a_later_run_that_did_not_succeed_breaks_the_chain(db: Engine, provider_id: uuid.UUID) -> None:
    # a cancelled run may have committed part of its load: the run before it no longer describes the store
    _finish(db, request(db, provider_id).run_id)
    _finish(db, request(db, provider_id).run_id, status="CANCELLED")
    assert _judge(db, provider_id) is None


def test_a_provider_changed_since_the_last_run_reads_the_package_again(db: Engine, provider_id: uuid.UUID) -> None:
    _finish(db, request(db, provider_id).run_id)
    with db.begin() as conn:
        conn.execute(text("UPDATE sis_providers SET updated_at = clock_timestamp() WHERE id = :p"), {"p": provider_id})
    assert _judge(db, provider_id) is None
