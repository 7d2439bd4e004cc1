"""Schemathesis, every check, over every operation of the real API, as both roles.

The API runs on uvicorn on 127.0.0.1 in this process, so the security fences (stubbed resolver,
loopback-only sockets) hold for its connection tests; the egress policy is on. Schemathesis runs
as its CLI against it, with providers of every type seeded for the district's tenant.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from xml.etree import ElementTree

import httpx
import pytest
from sqlalchemy import Engine, text
from starlette.testclient import TestClient

from libs.auth import mint_token
from libs.settings import Settings
from services.api.app import create_app
from tests.security.conftest import TENANT
from tests.support.api import ThreadedApi

# per operation and generation mode in the fuzzing and stateful phases (coverage generates its own set)
EXAMPLES = 10
_FINGERPRINT = "SHA256:" + "A" * 43
SEEDS = {
    "CLEVER": {"clientId": "c", "clientSecret": "s", "accessToken": "t", "districtId": "d"},
    "CLASSLINK": {"clientId": "c", "clientSecret": "s", "tenantId": "district-tx"},
    "ONEROSTER_API": {"baseUrl": "https://sis.example.org/ims/oneroster/v1p1", "clientId": "c", "clientSecret": "s"},
    "ONEROSTER_CSV": {
        "sftp": {"host": "sftp.example.org", "username": "u", "password": "p", "hostKeyFingerprint": _FINGERPRINT},
        "remotePath": "/exports",
    },
}


def _seed(settings: Settings, db: Engine, headers: dict[str, str]) -> tuple[dict[str, str], str]:
    """One provider of each type (all its secrets stored) and a finished run with one error."""
    with TestClient(create_app(settings)) as client:
        providers = {}
        for provider_type, config in SEEDS.items():
            body = {"tenantId": TENANT, "providerType": provider_type, "name": provider_type, "config": config}
            response = client.post("/api/v1/providers", json=body, headers=headers)
            assert response.status_code == 201, response.text
            providers[provider_type] = response.json()["id"]
    run_id = str(uuid.uuid4())
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual, started_at, "
                "completed_at) VALUES (:id, :p, :t, 'SUCCESS', 'manual', true, now(), now())"
            ),
            {"id": run_id, "p": providers["CLEVER"], "t": TENANT},
        )
        conn.execute(text("INSERT INTO sis_sync_errors (run_id, code, message) VALUES (:r, 'x', 'y')"), {"r": run_id})
    return providers, run_id


# The two roles run in parallel xdist workers (each with its own database and API). A role costs
# about 100 CPU seconds (schemathesis and the API together, one core's worth since they take
# turns): the coverage phase keeps a few cases per description (schemathesis_hooks.filter_case),
# fuzzing and stateful draw EXAMPLES per operation and mode.
@pytest.mark.parametrize("role", ["PLATFORM_ADMIN", "DISTRICT_ADMIN"])
def test_schemathesis_reports_no_failure(db: Engine, policy_on: Settings, role: str, tmp_path: Path) -> None:
    settings = policy_on.model_copy(update={"allow_local_csv_paths": False})
    assert settings.auth_jwt_secret is not None
    tenant = None if role == "PLATFORM_ADMIN" else TENANT
    token = mint_token(settings.auth_jwt_secret, subject="fuzz@a", roles=[role], tenant_id=tenant, ttl_seconds=3600)
    headers = {"Authorization": f"Bearer {token}"}
    providers, run_id = _seed(settings, db, headers)
    (tmp_path / "schemathesis.toml").write_text(
        f'[parameters]\nproviderId = "{providers["CLEVER"]}"\nrunId = "{run_id}"\ntenantId = "{TENANT}"\n'
    )
    env = {
        **os.environ,
        "SCHEMATHESIS_HOOKS": "tests.security.schemathesis_hooks",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "FUZZ_PROVIDERS": json.dumps(providers),
        "FUZZ_SEEDS": json.dumps(SEEDS),
        "FUZZ_DATABASE_URL": str(settings.database_url),
    }
    junit = tmp_path / "junit.xml"
    with ThreadedApi(settings) as api:
        document = httpx.get(f"{api.url}/openapi.json").json()
        result = subprocess.run(
            [
                str(Path(sys.executable).with_name("schemathesis")),
                "run",
                f"{api.url}/openapi.json",
                "--checks=all",
                # examples: the document has none; coverage, fuzzing and stateful test every operation
                "--phases=coverage,fuzzing,stateful",
                f"--max-examples={EXAMPLES}",
                "--seed=1",
                "--workers=1",
                f"--header=Authorization: Bearer {token}",
                # a deleted provider is soft-deleted: platform admins still read it and its runs, by
                # design (docs/security.md), so for them a read after a DELETE is no use after free
                *(["--exclude-checks=use_after_free"] if role == "PLATFORM_ADMIN" else []),
                "--report=junit",
                f"--report-junit-path={junit}",
                "--no-color",
            ],
            capture_output=True,
            text=True,
            timeout=1800,  # a loaded machine (load 15 on two cores) took 870 s
            cwd=tmp_path,
            env=env,
        )
    failures = result.stdout.find("= FAILURES =")
    assert result.returncode == 0, result.stdout[failures:][:30000] + result.stderr[-3000:]
    # every operation of the document was tested, none skipped: a run that tested nothing fails
    operations = {f"{method.upper()} {path}" for path, item in document["paths"].items() for method in item}
    # the document describes its own operation; schemathesis reads it and skips it as a case
    operations.discard("GET /openapi.json")
    suite = ElementTree.parse(junit).getroot()  # noqa: S314 - schemathesis wrote it, in tmp_path
    tested = {case.get("name") for case in suite.iter("testcase") if case.find("skipped") is None}
    assert not operations - tested, sorted(operations - tested)
    summary = result.stdout[result.stdout.rfind("SUMMARY") :]
    counted = re.search(r"Tested: (\d+)", summary)
    assert counted is not None, summary
    assert int(counted.group(1)) >= len(operations), summary
