"""A real OneRoster package's row errors, from the sync to the admin's CSV download."""

from __future__ import annotations

import csv
import io
import uuid
from pathlib import Path

from sqlalchemy import Engine

from libs.db.dev_secrets import config_cipher
from libs.enums import SyncStatus
from libs.etl.context import EtlContext
from libs.etl.phase import start_sync
from libs.settings import Settings
from tests.api.conftest import TENANT_A, RecordingClient
from tests.etl.conftest import Driver


def test_a_synced_packages_row_errors_download_with_file_line_column_code_and_message(
    real_client: RecordingClient, admin_a: dict[str, str], db: Engine, api_settings: Settings, shared_data: Path
) -> None:
    package = shared_data / "oneroster" / "moodle-enrol_oneroster" / "Test_full_data_set"
    created = real_client.post(
        "/api/v1/providers",
        json={
            "tenantId": TENANT_A,
            "providerType": "ONEROSTER_CSV",
            "name": "Moodle fixture",
            "config": {"localPath": str(package)},
        },
        headers=admin_a,
    )
    assert created.status_code == 201, created.text
    provider_id = created.json()["id"]
    run_id = real_client.post(f"/api/v1/providers/{provider_id}/sync", headers=admin_a).json()["runId"]
    # the run is carried through its phases in this process, as one worker thread would
    ctx = EtlContext(settings=api_settings, engine=db, cipher=config_cipher(api_settings), redis=None)
    Driver(ctx).drain([start_sync(uuid.UUID(run_id))])

    detail = real_client.get(f"/api/v1/runs/{run_id}", headers=admin_a).json()
    assert detail["status"] == SyncStatus.PARTIAL
    assert detail["errorCount"] == 8
    download = real_client.get(f"/api/v1/runs/{run_id}/errors?format=csv", headers=admin_a)
    assert download.status_code == 200
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 8
    by_code = {(r["source"], r["line"], r["field"], r["code"]): r for r in rows}
    department = by_code[("classes.csv", "2", "schoolSourcedId", "not_a_school")]
    assert department["entityType"] == "class"
    assert department["externalId"] == "cls-222-123456"
    assert department["message"] == "schoolSourcedId 'org-sch-222-456' is a department org in orgs.csv, not a school"
    dangling = by_code[("orgs.csv", "2", "parentSourcedId", "orphan_reference")]
    assert "org-sch-222-3456" in dangling["message"]
    deleted_class = by_code[("enrollments.csv", "5", "class_external_id", "orphan_reference")]
    assert deleted_class["message"] == "class_external_id 'cls-222-123478' refers to a class this feed deletes"
