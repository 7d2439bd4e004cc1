"""What the API's handlers share: settings, database engine, cipher, broker, Redis, rate limiter."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import dramatiq
from sqlalchemy import Engine

from libs.db.crypto import ConfigCipher
from libs.db.dev_secrets import config_cipher, jwt_secret
from libs.db.engine import get_engine
from libs.etl.phase import Next
from libs.redis_client import redis_client
from libs.settings import Settings
from services.api.ratelimit import RateLimiter
from services.queue.broker import build_broker
from services.queue.send import send

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    engine: Engine
    cipher: ConfigCipher
    jwt_secret: str
    broker: dramatiq.Broker
    redis: Any
    limiter: RateLimiter

    @classmethod
    def from_settings(cls, settings: Settings) -> Services:
        client = redis_client(settings)
        return cls(
            settings=settings,
            engine=get_engine(settings),
            cipher=config_cipher(settings),
            jwt_secret=jwt_secret(settings),
            broker=build_broker(settings),
            redis=client,
            limiter=RateLimiter(client, namespace=f"{settings.redis_namespace}:ratelimit"),
        )

    def send(self, messages: list[Next]) -> None:
        """Enqueue after commit. A failed send does not fail the request: the run is committed
        PENDING, and the scheduler's admission (every tick) does what `start_sync` would."""
        try:
            send(messages, self.broker, patience=0)
        except Exception as exc:
            log.warning("message send failed (%s); the scheduler will pick the run up", type(exc).__name__)
