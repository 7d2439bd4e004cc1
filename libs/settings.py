"""Process configuration, read once from the environment.

Every process (api, scheduler, worker, demo) loads the same settings. A bad value stops the
process at start with a message that names the environment variable, never later mid-run.
"""

from __future__ import annotations

import base64
import binascii
import functools
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from libs.auth import MAX_TTL_SECONDS


class AppEnv(StrEnum):
    PRODUCTION = "production"
    DEVELOPMENT = "development"
    TEST = "test"


class LogLevel(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class LogFormat(StrEnum):
    JSON = "json"
    TEXT = "text"


class SettingsError(Exception):
    """Raised when the environment holds an invalid configuration."""


def decode_key(text: str) -> bytes:
    """Decode one CONFIG_ENCRYPTION_KEYS entry: url-safe base64 of 32 random bytes."""
    padded = text + "=" * (-len(text) % 4)
    try:
        raw = base64.urlsafe_b64decode(padded.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("each key must be url-safe base64 (see `sis-sync keygen`)") from exc
    if len(raw) != 32:
        raise ValueError(f"each key must decode to 32 bytes (AES-256), got {len(raw)}")
    return raw


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=None,
        case_sensitive=False,
        extra="ignore",
        frozen=True,
        populate_by_name=True,
    )

    database_url: str | None = Field(default=None, description="postgresql:// URL of the service database")
    redis_url: str | None = Field(default=None, description="redis:// URL of the message broker")
    redis_namespace: str = Field(default="sis-sync", pattern=r"^[A-Za-z0-9_.:-]+$")
    port: int = Field(default=3000, ge=1, le=65535)
    host: str = "0.0.0.0"  # noqa: S104 - a service listens on all interfaces unless told otherwise
    log_level: LogLevel = LogLevel.INFO
    # unset: json in production, text elsewhere
    log_format: LogFormat | None = None
    # NODE_ENV is another name for it (the product spec's environment block sets that one);
    # APP_ENV wins when both are set
    app_env: AppEnv = Field(default=AppEnv.PRODUCTION, validation_alias=AliasChoices("app_env", "node_env"))
    max_concurrent_syncs: int = Field(default=2, ge=1, le=1000)
    # under the global cap: one district's slow or hanging source cannot hold every slot
    max_concurrent_syncs_per_tenant: int = Field(default=1, ge=1, le=1000)
    sync_lock_timeout: int = Field(default=1_800_000, ge=1_000, description="lease length in ms")
    config_encryption_keys: Annotated[tuple[str, ...], NoDecode] = Field(default=(), repr=False)
    auth_jwt_secret: str | None = Field(default=None, repr=False)
    auth_jwt_issuer: str | None = None
    auth_jwt_audience: str | None = None
    # longest token lifetime accepted (exp - iat, and exp - now)
    auth_jwt_max_ttl_seconds: int = Field(default=MAX_TTL_SECONDS, ge=60)
    allow_local_csv_paths: bool = False
    data_dir: Path = Path(".data")
    scheduler_tick_seconds: float = Field(default=5.0, gt=0, le=3600)
    staging_batch_rows: int = Field(default=10_000, ge=100)
    # a run whose lease is live but which has neither heartbeated nor moved on for this long
    # gets its phase message re-sent by the scheduler (duplicates are harmless)
    resend_after_seconds: float = Field(default=300.0, ge=5)
    # how long a run waits out an unreachable Postgres or Redis and then goes on; a longer
    # outage ends the run FAILURE, saying for how long the database was unreachable
    outage_grace_seconds: float = Field(default=150.0, ge=1, le=3600)
    # a HELD run's plan waits this long for a decision, then the run ends CANCELLED
    held_plan_ttl_hours: float = Field(default=72.0, gt=0, le=24 * 365)
    # a run's change ledger is kept this long after it ends; an older run can no longer be undone
    ledger_retention_days: int = Field(default=90, ge=1, le=3650)
    # how soon Redis hands a dead worker's unacknowledged messages to a live one (ms), and how
    # often (per million broker commands) a worker runs that maintenance
    broker_heartbeat_timeout_ms: int = Field(default=15_000, ge=1_000)
    broker_maintenance_chance: int = Field(default=10_000, ge=1, le=1_000_000)
    # longest pause of an idle worker between two polls of a queue (ms)
    worker_poll_ms: int = Field(default=100, ge=10, le=10_000)
    api_max_body_bytes: int = Field(default=262_144, ge=1_024, description="largest request body the API reads")
    api_requests_per_minute: int = Field(default=600, ge=1, description="per bearer token, all endpoints")
    api_sync_triggers_per_minute: int = Field(
        default=5, ge=1, description="per bearer token and provider: manual syncs and connection tests"
    )
    connection_test_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    # seconds one source request, and one extract step, may spend on retries before giving up
    source_retry_budget_seconds: float = Field(default=300.0, gt=0, le=86_400)
    # a OneRoster CSV zip that would expand past this (20 GiB) is refused before it is read
    csv_max_uncompressed_bytes: int = Field(default=20 << 30, ge=1 << 20)
    # egress policy of every provider connection (libs/connectors/egress.py): unset means allowed
    # when APP_ENV is development or test (simulators on loopback), refused in production
    allow_private_provider_hosts: bool | None = None
    # CIDRs and host names provider connections may always reach, comma-separated
    provider_egress_allow: Annotated[tuple[str, ...], NoDecode] = ()
    # sftp.privateKeyPath names a file in SFTP_KEY_DIR/<tenantId>/; unset: key paths are refused
    sftp_key_dir: Path | None = None
    # webhook retries: the first after this many seconds, each later one twice as late (at most
    # 6 h apart); the defaults spread 15 retries over about a day
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=3600)
    webhook_max_retries: int = Field(default=15, ge=0, le=50)
    # a tenant_id label on run, record, source request and webhook series: one series per district
    metrics_tenant_labels: bool = False
    # `sis-sync worker` serves its pool's /metrics on this port (HOST's interface); 0: none
    worker_metrics_port: int = Field(default=9191, ge=0, le=65535)

    @field_validator("log_level", "log_format", "app_env", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("config_encryption_keys", "provider_egress_allow", mode="before")
    @classmethod
    def _split_keys(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("config_encryption_keys")
    @classmethod
    def _check_keys(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for key in value:
            decode_key(key)
        return value

    @field_validator("provider_egress_allow")
    @classmethod
    def _check_egress_allow(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        from libs.connectors.egress import parse_allow_entries

        parse_allow_entries(value)
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql://", "postgresql+psycopg://", "postgres://")):
            raise ValueError("must be a postgresql:// URL")
        return value

    @field_validator("redis_url")
    @classmethod
    def _check_redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @model_validator(mode="after")
    def _production_needs_secrets(self) -> Settings:
        if self.app_env is AppEnv.PRODUCTION:
            if not self.config_encryption_keys:
                raise ValueError("CONFIG_ENCRYPTION_KEYS is required when APP_ENV=production")
            if not self.auth_jwt_secret:
                raise ValueError("AUTH_JWT_SECRET is required when APP_ENV=production")
        if self.auth_jwt_secret is not None and len(self.auth_jwt_secret) < 32 and self.app_env is AppEnv.PRODUCTION:
            raise ValueError("AUTH_JWT_SECRET must be at least 32 characters when APP_ENV=production")
        return self

    @property
    def encryption_keys(self) -> list[bytes]:
        return [decode_key(key) for key in self.config_encryption_keys]

    @property
    def private_provider_hosts_allowed(self) -> bool:
        """ALLOW_PRIVATE_PROVIDER_HOSTS, or its default: only development and test reach private hosts."""
        if self.allow_private_provider_hosts is not None:
            return self.allow_private_provider_hosts
        return self.app_env is not AppEnv.PRODUCTION

    @property
    def effective_log_format(self) -> LogFormat:
        if self.log_format is not None:
            return self.log_format
        return LogFormat.JSON if self.app_env is AppEnv.PRODUCTION else LogFormat.TEXT

    @property
    def sync_lock_timeout_seconds(self) -> float:
        return self.sync_lock_timeout / 1000.0

    @property
    def sqlalchemy_url(self) -> str:
        if self.database_url is None:
            raise SettingsError("DATABASE_URL is not set")
        return to_sqlalchemy_url(self.database_url)


def to_sqlalchemy_url(url: str) -> str:
    """Name the psycopg 3 driver explicitly; a bare postgresql:// would pick psycopg2."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def to_libpq_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        location = [str(part) for part in item["loc"]]
        name = location[0].upper() if location else "configuration"
        if name in ("APP_ENV", "NODE_ENV"):
            name = "APP_ENV (or NODE_ENV)"
        message = str(item["msg"]).removeprefix("Value error, ")
        value = item.get("input")
        if location and not isinstance(value, dict) and "KEY" not in name and "SECRET" not in name:
            message = f"{message} (got {value!r})"
        lines.append(f"{name}: {message}" if location else message)
    return "Invalid configuration: " + "; ".join(lines)


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment; raise SettingsError naming the bad variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


@functools.cache
def get_settings() -> Settings:
    return load_settings()
