"""Every command in docs/deploy.md is run here, or checked when this machine cannot run it.

`sis-sync`, `pg_dump`, `pg_restore` and `kubernetes-validate` lines are run as written (bash, with
DATABASE_URL pointing at a test database). `docker` and `kubectl` lines are checked against the
files, services and objects they name. `make` lines name a Makefile target.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from psycopg.conninfo import make_conninfo
from sqlalchemy import text

from libs.db.crypto import ConfigCipher, generate_key
from libs.db.engine import make_engine
from libs.enums import ProviderType
from libs.settings import Settings, decode_key
from services.cli import build_parser
from tests.support.database import fresh_database, with_database
from tests.support.providers import create_provider, request

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "deploy.md"
BIN = Path(sys.executable).parent
KNOWN = ("sis-sync", "docker", "kubectl", "kubernetes-validate", "make", "pg_dump", "pg_restore")
BACKED_UP = {
    "providers": ("sis_providers", "sis_webhooks"),
    "runs": ("sis_sync_runs", "sis_sync_run_steps", "sis_sync_errors", "sis_webhook_deliveries"),
    "roster": ("schools", "terms", "classes", "users", "enrollments"),
    "ledger": ("sis_entity_links", "audit_log"),
}


def sections() -> dict[str, list[str]]:
    """The command lines of each `##` section's sh blocks."""
    out: dict[str, list[str]] = {}
    section = ""
    in_block = False
    for line in DOC.read_text().splitlines():
        stripped = line.strip()
        if line.startswith("## "):
            section = line[3:].strip()
        elif stripped.startswith("```"):
            in_block = stripped == "```sh" and not in_block
        elif in_block and stripped:
            out.setdefault(section, []).append(stripped)
    return out


def commands() -> list[str]:
    return [c for lines in sections().values() for c in lines]


def bash(line: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", line], env=env, cwd=cwd, capture_output=True, text=True, timeout=300
    )


def run_env(database_url: str, redis_url: str, keys: str) -> dict[str, str]:
    return {
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only where HOME is unset
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "APP_ENV": "test",
        "CONFIG_ENCRYPTION_KEYS": keys,
        "AUTH_JWT_SECRET": "docs-test-" + "z" * 40,
    }


def test_every_command_in_the_doc_is_one_this_test_knows() -> None:
    found = commands()
    assert len(found) >= 15
    for line in found:
        assert shlex.split(line)[0] in KNOWN, line


def test_every_sis_sync_command_parses() -> None:
    parser = build_parser()
    for line in commands():
        argv = shlex.split(line)
        if argv[0] == "sis-sync":
            parser.parse_args(argv[1:])


def test_make_lines_name_makefile_targets() -> None:
    targets = set(re.findall(r"^([a-z][\w-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    for line in commands():
        argv = shlex.split(line)
        if argv[0] == "make":
            assert set(argv[1:]) <= targets, line


def test_docker_lines_name_files_and_services_that_exist() -> None:
    compose_services: set[str] = set()
    for line in commands():
        argv = shlex.split(line)
        if argv[0] != "docker":
            continue
        assert (ROOT / argv[argv.index("-f") + 1]).is_file(), line
        if argv[1] == "compose":
            compose = yaml.safe_load((ROOT / argv[argv.index("-f") + 1]).read_text())
            compose_services = set(compose["services"])
            for arg in argv:
                if "=" in arg and not arg.startswith("-"):
                    assert arg.split("=")[0] in compose_services, line  # --scale service=n
            if "run" in argv:
                assert argv[-1] in compose_services, line
    assert compose_services


def _k8s_objects() -> dict[tuple[str, str], dict[str, Any]]:
    objects = {}
    for path in (ROOT / "deploy" / "k8s").glob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and "kind" in doc and "metadata" in doc:
                objects[(doc["kind"].lower(), doc["metadata"]["name"])] = doc
    return objects


def test_kubectl_lines_name_files_and_objects_that_exist() -> None:
    objects = _k8s_objects()
    for line in commands():
        argv = shlex.split(line)
        if argv[0] != "kubectl":
            continue
        if argv[1:3] == ["create", "secret"]:
            secret = objects[("secret", argv[4])]
            for arg in argv[5:]:
                if arg.startswith("--from-file="):
                    assert arg.split("=")[1] in secret["stringData"], line
        elif argv[1] == "apply":
            flag = argv[2]
            target = ROOT / argv[3]
            assert (target / "kustomization.yaml").is_file() if flag == "-k" else target.is_file(), line
        elif argv[1] == "wait":
            kind, name = argv[-2 if argv[-1].startswith("--") else -1].split("/")
            assert (kind, name) in objects, line
        else:
            pytest.fail(f"no check for {line}")


def test_the_validation_command_runs_and_covers_every_kubernetes_manifest() -> None:
    (line,) = [c for c in commands() if c.startswith("kubernetes-validate")]
    done = bash(line, {"PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}, ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    named = {Path(a).name for a in shlex.split(line) if a.endswith(".yaml")}
    kube = {p.name for p in (ROOT / "deploy" / "k8s").glob("*.yaml")} - {"kustomization.yaml", "keda.yaml"}
    assert named == kube


@pytest.fixture
def empty_database(postgres_url: str) -> Iterator[str]:
    name = f"sis_restore_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(make_conninfo(postgres_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(postgres_url, name)
    finally:
        with psycopg.connect(make_conninfo(postgres_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _contents(url: str) -> dict[str, list[str]]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                table: sorted(
                    json.dumps(r[0], sort_keys=True) for r in conn.execute(text(f"SELECT to_jsonb(t) FROM {table} t"))
                )
                for tables in BACKED_UP.values()
                for table in tables
            }
    finally:
        engine.dispose()


def test_backup_and_restore_bring_back_providers_runs_roster_and_ledger(
    postgres_url: str, redis_url: str, settings: Settings, empty_database: str, tmp_path: Path
) -> None:
    lines = sections()["Backup and restore"]
    with fresh_database(postgres_url, "backup") as source:
        engine = make_engine(source)
        provider = create_provider(
            engine, settings, provider_type=ProviderType.ONEROSTER_API, config={"baseUrl": "https://sis.example.org"}
        )
        request(engine, provider)
        with engine.begin() as conn:
            school = uuid.uuid4()
            conn.execute(
                text("INSERT INTO schools (id, tenant_id, name) VALUES (:s, 'district-1', 'North High')"), {"s": school}
            )
            conn.execute(
                text(
                    "INSERT INTO sis_entity_links (provider_id, entity_type, external_id, entity_id) "
                    "VALUES (:p, 'school', 'sch-1', :s)"
                ),
                {"p": provider, "s": school},
            )
        engine.dispose()
        before = _contents(source)
        assert all(before[t] for t in ("sis_providers", "sis_sync_runs", "schools", "sis_entity_links"))
        keys = ",".join(settings.config_encryption_keys)
        (dump,) = [c for c in lines if c.startswith("pg_dump")]
        done = bash(dump, run_env(source, redis_url, keys), tmp_path)
        assert done.returncode == 0, done.stderr
    # the source database is gone: restore from the dump alone
    for line in [c for c in lines if not c.startswith("pg_dump")]:
        done = bash(line, run_env(empty_database, redis_url, keys), tmp_path)
        assert done.returncode == 0, (line, done.stderr)
    assert _contents(empty_database) == before


def test_the_upgrade_and_rollback_commands_run(
    postgres_url: str, redis_url: str, settings: Settings, tmp_path: Path
) -> None:
    lines = sections()["Upgrade runbook"] + sections()["What runs where"]
    keys = ",".join(settings.config_encryption_keys)
    with fresh_database(postgres_url, "upgrade") as url:
        env = run_env(url, redis_url, keys)
        for line in lines:
            done = bash(line, env, tmp_path)
            assert done.returncode == 0, (line, done.stdout, done.stderr)
        # and forward again after the rollback
        assert bash("sis-sync migrate", env, tmp_path).returncode == 0


def test_the_key_rotation_commands_reseal_under_the_new_key(
    postgres_url: str, redis_url: str, settings: Settings, tmp_path: Path
) -> None:
    keygen, rotate = sections()["Key rotation runbook"]
    old = generate_key()
    with fresh_database(postgres_url, "rotate") as url:
        engine = make_engine(url)
        sealed = settings.model_copy(update={"config_encryption_keys": (old,)})
        create_provider(engine, sealed, provider_type=ProviderType.ONEROSTER_API, config={"clientSecret": "s3cret"})
        made = bash(keygen, run_env(url, redis_url, old), tmp_path)
        assert made.returncode == 0, made.stderr
        new = made.stdout.strip()
        done = bash(rotate, run_env(url, redis_url, f"{new},{old}"), tmp_path)
        assert done.returncode == 0, done.stderr
        assert "re-encrypted 1 of 1" in done.stdout
        with engine.connect() as conn:
            row = conn.execute(text("SELECT id, config_ciphertext FROM sis_providers")).one()
        engine.dispose()
        # step 4: the old key can go
        assert ConfigCipher([decode_key(new)]).decrypt(bytes(row.config_ciphertext), provider_id=str(row.id))
