"""Generated packages read back through the real ONEROSTER_CSV connector unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from devkit.generator import District
from devkit.generator.oneroster_csv import as_read_from_oneroster_csv, write_oneroster_csv
from libs.connectors.base import ConnectorContext, FeedMode
from libs.connectors.records import Record, RecordError
from libs.connectors.registry import build_connector
from libs.enums import LOAD_ORDER, EntityType, ProviderType


def extract(path: Path) -> tuple[dict[EntityType, dict[str, Record]], dict[EntityType, Any]]:
    context = ConnectorContext(provider_id="generated", allow_local_paths=True)
    connector = build_connector(ProviderType.ONEROSTER_CSV, {"localPath": str(path)}, context)
    records: dict[EntityType, dict[str, Record]] = {entity: {} for entity in LOAD_ORDER}
    outcomes: dict[EntityType, Any] = {}
    for step in connector.plan():
        extraction = connector.extract(step)
        for item in extraction:
            assert not isinstance(item, RecordError), item
            records[item.entity_type][item.external_id] = item
        outcomes.update(extraction.outcomes)
    return records, outcomes


@pytest.mark.parametrize("as_zip", [False, True])
def test_a_bulk_package_reads_back_as_the_generated_records(tiny: District, tmp_path: Path, as_zip: bool) -> None:
    records, outcomes = extract(write_oneroster_csv(tiny, tmp_path / "pkg.zip" if as_zip else tmp_path, zip=as_zip))
    assert {entity: outcome.mode for entity, outcome in outcomes.items()} == dict.fromkeys(LOAD_ORDER, FeedMode.FULL)
    for entity in LOAD_ORDER:
        expected = {r.external_id: as_read_from_oneroster_csv(r).content() for r in tiny.records(entity)}
        assert {key: r.content() for key, r in records[entity].items()} == expected, entity


@pytest.mark.parametrize("change", ["churn", "rollover"])
def test_a_delta_package_reads_back_as_the_changes(tiny: District, tmp_path: Path, change: str) -> None:
    changed = tiny.with_churn(percent=10, seed=4) if change == "churn" else tiny.with_rollover(seed=4)
    records, outcomes = extract(write_oneroster_csv(changed, tmp_path, delta_from=tiny))
    assert outcomes[EntityType.USER].mode is FeedMode.DELTA
    for kind, record in changed.changes_since(tiny):
        read = records[record.entity_type].pop(record.external_id)
        assert read.tombstone == (kind == "deleted")
        if kind != "deleted":
            assert read.content() == as_read_from_oneroster_csv(record).content()
    assert all(not remaining for remaining in records.values())
