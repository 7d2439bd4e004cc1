"""`sis-sync rotate-keys` as an operator runs it: a new key first, the old one after it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlalchemy import Engine, text

from libs.db.crypto import ConfigCipher, generate_key
from libs.db.settings import Settings, decode_key
from libs.enums import ProviderType
from tests.support.providers import create_provider

SECRET = "rotate-cli-secret-value-4711"


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
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "rotate-keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
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
    again = subprocess.run(
        [sys.executable, "-m", "services.cli", "rotate-keys"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "re-encrypted 0 of 3 provider configs" in again.stdout
