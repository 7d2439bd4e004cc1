"""Secrets for development and test runs that did not configure their own.

Production refuses to start without CONFIG_ENCRYPTION_KEYS and AUTH_JWT_SECRET (see settings).
Elsewhere, a random key and JWT secret are created once under DATA_DIR and reused, so the
demo survives restarts and nobody has to invent keys to try the service.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from libs.db.crypto import ConfigCipher, generate_key
from libs.settings import AppEnv, Settings, decode_key


def _read_or_create(path: Path, make: str) -> str:
    """The secret in `path`, created with `make` if there is none yet.

    Several processes start together (the API and the workers of `make demo`): each writes its
    candidate to a private temp file (0600 from the start) and hard-links it into place. The
    link either appears complete or fails because another process linked first, so every
    process reads the one secret that won and nobody reads a half-written file.
    """
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(make)
            handle.flush()
            os.fsync(handle.fileno())
        # another process linked its secret first: that one is the secret
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)
    return path.read_text().strip()


def config_cipher(settings: Settings) -> ConfigCipher:
    if settings.config_encryption_keys:
        return ConfigCipher(settings.encryption_keys)
    if settings.app_env is AppEnv.PRODUCTION:  # settings validation already refuses this
        raise RuntimeError("CONFIG_ENCRYPTION_KEYS is required in production")
    key = _read_or_create(settings.data_dir / "dev-encryption.key", generate_key())
    return ConfigCipher([decode_key(key)])


def jwt_secret(settings: Settings) -> str:
    if settings.auth_jwt_secret:
        return settings.auth_jwt_secret
    if settings.app_env is AppEnv.PRODUCTION:
        raise RuntimeError("AUTH_JWT_SECRET is required in production")
    return _read_or_create(settings.data_dir / "dev-jwt.secret", secrets.token_urlsafe(48))
