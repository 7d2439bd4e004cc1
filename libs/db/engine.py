"""Database engines: one pooled SQLAlchemy engine per process and database URL."""

from __future__ import annotations

import threading

from sqlalchemy import Engine, create_engine

from libs.settings import Settings, to_sqlalchemy_url


def make_engine(database_url: str, *, pool_size: int = 5, application_name: str = "sis-sync") -> Engine:
    return create_engine(
        to_sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"application_name": application_name},
    )


_ENGINES: dict[str, Engine] = {}
_LOCK = threading.Lock()


def get_engine(settings: Settings) -> Engine:
    """The process-wide engine for these settings (created on first use)."""
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL is not set")
    with _LOCK:
        engine = _ENGINES.get(settings.database_url)
        if engine is None:
            engine = _ENGINES[settings.database_url] = make_engine(settings.database_url)
        return engine


def dispose_engines() -> None:
    """Close every pooled connection of this process (at shutdown or test teardown)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
