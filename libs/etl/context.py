"""What every phase needs: settings, the engine, the config cipher, a Redis client."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from libs.db.crypto import ConfigCipher
from libs.db.dev_secrets import config_cipher
from libs.db.engine import get_engine
from libs.redis_client import redis_client
from libs.settings import Settings


@dataclass
class EtlContext:
    settings: Settings
    engine: Engine
    cipher: ConfigCipher
    redis: Any

    @classmethod
    def from_settings(cls, settings: Settings) -> EtlContext:
        return cls(
            settings=settings, engine=get_engine(settings), cipher=config_cipher(settings), redis=redis_client(settings)
        )

    @property
    def lease_ms(self) -> int:
        return self.settings.sync_lock_timeout
