"""`sis-sync rotate-keys` as an operator runs it: a new key first, the old one after it."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from libs.db.crypto import ConfigCipher, generate_key
from libs.db.keys import UnreadableConfigs, rotate_config_keys
from libs.enums import ProviderType
from libs.settings import Settings, decode_key
from tests.support.providers import create_provider

SECRET = "rotate-cli-secret-value-4711"


def _rotate_cli(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "rotate-keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )


def _sealed_rows(db: Engine) -> dict[uuid.UUID, bytes]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT id, config_ciphertext FROM sis_providers")).all()
    return {row.id: bytes(row.config_ciphertext) for row in rows}


def _rotation_audits(db: Engine) -> int:
    with db.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM audit_log WHERE action = 'keys.rotated'")).scalar_one())


def _providers_under_old_and_lost_keys(db: Engine, settings: Settings, old: str, lost: str) -> uuid.UUID:
    """Three providers under `old` and one under `lost`, the latter last in id order (so a
    rotation in batches would have committed the others before reaching it)."""
    ids = [
        create_provider(
            db,
            settings.model_copy(update={"config_encryption_keys": (old,)}),
            provider_type=ProviderType.CLEVER,
            name=f"Clever {n}",
            config={"clientId": f"client-{n}", "clientSecret": f"{SECRET}-{n}", "districtId": f"d{n}"},
        )
        for n in range(4)
    ]
    last = max(ids)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE sis_providers SET name = 'Lost key district', config_ciphertext = :c WHERE id = :id"),
            {
                "c": ConfigCipher([decode_key(lost)]).encrypt({"clientSecret": SECRET}, provider_id=str(last)),
                "id": last,
            },
        )
    return last


def test_rotate_keys_reseals_every_provider_under_the_new_key(db: Engine, settings: Settings, tmp_path: Path) -> None:
    old, new = generate_key(), generate_key()
    sealed_with_old = settings.model_copy(update={"config_encryption_keys": (old,)})
    configs = {
        create_provider(
            db,
            sealed_with_old,
            provider_type=ProviderType.CLEVER,
            name=f"Clever {n}",
            config={"clientId": f"client-{n}", "clientSecret": f"{SECRET}-{n}", "districtId": f"d{n}"},
        ): n
        for n in range(3)
    }
    env = {
        "PATH": "/usr/bin:/bin",
        "APP_ENV": "test",
        "DATABASE_URL": str(settings.database_url),
        "CONFIG_ENCRYPTION_KEYS": f"{new},{old}",
        "DATA_DIR": str(tmp_path),
        # the most talkative level: even then no secret may reach the output
        "LOG_LEVEL": "debug",
    }
    done = _rotate_cli(env)
    output = done.stdout + done.stderr
    assert done.returncode == 0, output
    assert "re-encrypted 3 of 3 provider configs" in done.stdout
    assert SECRET not in output
    assert old not in output
    assert new not in output

    new_only = ConfigCipher([decode_key(new)])
    with db.connect() as conn:
        rows = conn.execute(text("SELECT id, config_ciphertext FROM sis_providers")).all()
    assert {row.id for row in rows} == set(configs)
    for row in rows:
        n = configs[row.id]
        # the old key can be dropped from CONFIG_ENCRYPTION_KEYS now
        assert new_only.decrypt(row.config_ciphertext, provider_id=str(row.id)) == {
            "clientId": f"client-{n}",
            "clientSecret": f"{SECRET}-{n}",
            "districtId": f"d{n}",
        }

    # nothing is left under the old key: a second run re-encrypts nothing
    again = _rotate_cli(env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "re-encrypted 0 of 3 provider configs" in again.stdout


@pytest.mark.parametrize("keys_set", [True, False], ids=["old-key-missing", "no-keys-at-all"])
def test_rotate_keys_names_the_provider_it_cannot_open_and_changes_nothing(
    db: Engine, settings: Settings, tmp_path: Path, keys_set: bool
) -> None:
    old, new, lost = generate_key(), generate_key(), generate_key()
    unopened = _providers_under_old_and_lost_keys(db, settings, old, lost)
    before = _sealed_rows(db)
    env = {
        "PATH": "/usr/bin:/bin",
        "APP_ENV": "test",
        "DATABASE_URL": str(settings.database_url),
        "DATA_DIR": str(tmp_path),
        "LOG_LEVEL": "debug",
    }
    if keys_set:
        env["CONFIG_ENCRYPTION_KEYS"] = f"{new},{old}"

    done = _rotate_cli(env)

    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"'Lost key district' ({unopened})" in lines[0]
    if keys_set:
        assert "keep the key it was saved with in CONFIG_ENCRYPTION_KEYS, after the new primary key" in lines[0]
        # only the provider that did not open is named
        assert "Clever" not in lines[0]
    else:
        # a development key, created for this run, opens nothing: every provider is named
        assert "does not open" not in lines[0]
        assert "do not open with the development key (CONFIG_ENCRYPTION_KEYS is not set)" in lines[0]
        assert all(f"({provider_id})" in lines[0] for provider_id in before)
        assert "keep the key they were saved with in CONFIG_ENCRYPTION_KEYS, after the new primary key" in lines[0]
    for secret in (SECRET, old, new, lost):
        assert secret not in done.stderr
    assert _sealed_rows(db) == before
    assert _rotation_audits(db) == 0


def test_a_rotation_that_meets_an_unopenable_config_rolls_back_the_batches_before_it(
    db: Engine, settings: Settings
) -> None:
    old, new, lost = generate_key(), generate_key(), generate_key()
    unopened = _providers_under_old_and_lost_keys(db, settings, old, lost)
    before = _sealed_rows(db)
    cipher = ConfigCipher([decode_key(new), decode_key(old)])

    with pytest.raises(UnreadableConfigs) as raised:
        rotate_config_keys(db, cipher, actor="test", batch=1)

    assert [p.provider_id for p in raised.value.providers] == [unopened]
    assert _sealed_rows(db) == before
    assert _rotation_audits(db) == 0
