"""The command line: tokens, keys, and clear failures."""

from __future__ import annotations

import pytest

from libs.auth import decode_token
from libs.settings import decode_key
from services.cli import main


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
