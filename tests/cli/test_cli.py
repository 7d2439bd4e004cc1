"""The command line: tokens, keys, and clear failures."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from libs.auth import decode_token
from libs.settings import decode_key
from services.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    monkeypatch.setenv("APP_ENV", "development")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    monkeypatch.setenv("AUTH_JWT_SECRET", "cli-test-secret-" + "y" * 32)
    monkeypatch.delenv("DATABASE_URL", raising=False)


def test_token_mints_a_district_admin_token(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["token", "--role", "DISTRICT_ADMIN", "--tenant", "district-9"]) == 0
    token = capsys.readouterr().out.strip()
    principal = decode_token(token, "cli-test-secret-" + "y" * 32)
    assert principal.tenant_id == "district-9"
    assert principal.roles == frozenset({"DISTRICT_ADMIN"})
    assert principal.can_access_tenant("district-9")
    assert not principal.can_access_tenant("district-10")


def test_token_requires_a_tenant_for_district_admins() -> None:
    with pytest.raises(SystemExit, match="--tenant is required"):
        main(["token", "--role", "DISTRICT_ADMIN"])


def test_keygen_prints_a_usable_key(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["keygen"]) == 0
    assert len(decode_key(capsys.readouterr().out.strip())) == 32


def test_bad_settings_exit_2_with_the_variable_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MAX_CONCURRENT_SYNCS", "many")
    assert main(["migrate"]) == 2
    assert "MAX_CONCURRENT_SYNCS" in capsys.readouterr().err


def test_only_the_dev_kit_commands_import_the_dev_kit() -> None:
    # the production processes never load devkit, even where it is installed
    script = (
        "import sys; from services.cli import build_parser, main; parser = build_parser(); "
        "[parser.parse_args(a.split()) for a in ('api', 'worker', 'scheduler', 'migrate', 'token', 'rotate-keys')]; "
        "main(['keygen']); import services.api.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('devkit', 'tests')))"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


@pytest.mark.parametrize("command", ["demo", "generate", "simulate"])
def test_the_dev_kit_commands_take_their_options_from_the_dev_kit(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"])
    assert stopped.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: sis-sync {command} [-h]")


def test_ready_answers_0_when_postgres_and_redis_answer_and_1_naming_the_one_that_does_not(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], database_url: str, redis_url: str
) -> None:
    # the probe of the scheduler and the workers (deploy/k8s, deploy/docker-compose.yml)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REDIS_URL", redis_url)
    assert main(["ready"]) == 0
    assert '"status": "ok"' in capsys.readouterr().out
    # a port nothing listens on: refused at once
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    assert main(["ready"]) == 1
    out = capsys.readouterr().out
    assert '"database": "ok"' in out
    assert '"redis": "ConnectionError"' in out


def test_token_works_in_a_fresh_checkout_as_documented(tmp_path: Path) -> None:
    # what the README, docs/ui.md and the sign-in page say to run: no APP_ENV, no secret; the
    # token is signed with the development secret `make demo` keeps under DATA_DIR (./.data)
    env = {"PATH": os.environ["PATH"], "DATA_DIR": str(tmp_path / "data")}
    command = [sys.executable, "-m", "services.cli", "token", "--tenant", "demo-district", "--login-url"]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().split("#token=", 1)[1]
    secret = (tmp_path / "data" / "dev-jwt.secret").read_text().strip()
    assert decode_token(token, secret).tenant_id == "demo-district"
    assert "development secret" in result.stderr
    # an explicit production environment still refuses to mint without its secret
    result = subprocess.run(
        command,
        env={**env, "NODE_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 2
    assert "is required when APP_ENV=production" in result.stderr
