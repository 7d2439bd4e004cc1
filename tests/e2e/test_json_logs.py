"""LOG_FORMAT=json end to end: every line a real worker writes is a JSON object, and a sync's
lines carry its run, provider, tenant and phase."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import Engine

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.enums import ProviderType, SyncStatus
from libs.settings import Settings
from tests.support.providers import create_provider
from tests.support.workers import Syncs, start_worker

pytestmark = pytest.mark.e2e


def test_a_json_worker_writes_only_json_lines_and_a_syncs_lines_name_its_run(
    e2e_settings: Settings, db: Engine, log_dir: Path, tmp_path: Path
) -> None:
    # a key space of its own: only this worker takes these messages
    settings = e2e_settings.model_copy(update={"redis_namespace": f"{e2e_settings.redis_namespace}-json"})
    package = write_oneroster_csv(District(DistrictSpec(students=40, teachers=4, schools=1, seed=3)), tmp_path / "p")
    provider_id = create_provider(
        db, settings, provider_type=ProviderType.ONEROSTER_CSV, config={"localPath": str(package)}
    )
    worker = start_worker(settings, log_dir, log_format="json")
    syncs = Syncs(settings, db)
    try:
        run = syncs.run(provider_id)
    finally:
        syncs.close()
        worker.stop()  # the master's shutdown lines too
    assert run["status"] == SyncStatus.SUCCESS

    lines = [json.loads(line) for line in worker.output().splitlines()]
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    assert any(line["message"].startswith("Dramatiq") for line in lines)  # the master's own lines
    ours = [line for line in lines if line.get("run_id") == str(run["id"])]
    messages = [line["message"] for line in ours]
    assert f"run {run['id']} finished SUCCESS" in messages
    assert any(m.startswith(f"run {run['id']} planned") for m in messages)
    assert {(line["provider_id"], line["tenant_id"]) for line in ours} == {(str(provider_id), "district-1")}
    assert {line["phase"] for line in ours} >= {"plan", "finalize"}
