"""Development secrets under DATA_DIR: created once, whoever starts first, never half-written."""

from __future__ import annotations

import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from libs.db.dev_secrets import config_cipher, jwt_secret
from libs.settings import Settings, load_settings

CREATORS = 24
ROUNDS = 10


def _dev_settings(data_dir: Path) -> Settings:
    return load_settings(app_env="development", config_encryption_keys="", auth_jwt_secret=None, data_dir=data_dir)


def _encryption_key(settings: Settings) -> object:
    return tuple(config_cipher(settings).keys)


@pytest.mark.parametrize(
    ("read", "filename"),
    [(_encryption_key, "dev-encryption.key"), (jwt_secret, "dev-jwt.secret")],
    ids=["encryption-key", "jwt-secret"],
)
def test_concurrent_first_starts_all_get_the_one_secret_on_disk(
    tmp_path: Path, read: Callable[[Settings], object], filename: str
) -> None:
    for round_ in range(ROUNDS):
        data_dir = tmp_path / f"round-{round_}" / "data"
        settings = _dev_settings(data_dir)
        start = threading.Barrier(CREATORS)

        def create(settings: Settings = settings, start: threading.Barrier = start) -> object:
            start.wait()
            return read(settings)

        with ThreadPoolExecutor(CREATORS) as pool:
            futures = [pool.submit(create) for _ in range(CREATORS)]
            got = [f.result() for f in futures]

        # counted, not compared, so a failure does not print the secrets
        distinct = len(set(got))
        assert distinct == 1, f"round {round_}"
        # a later start reads the same secret, and nothing but the secret's file is left behind
        assert read(settings) == got[0], f"round {round_}: a later start read another secret"
        assert [p.name for p in data_dir.iterdir()] == [filename]
        assert stat.S_IMODE((data_dir / filename).stat().st_mode) == 0o600
