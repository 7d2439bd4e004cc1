"""Database engines and connections.

SQLAlchemy Core/ORM for the control plane (providers, runs, API); raw psycopg connections for
the data path, where binary COPY and long set-based statements need the driver itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session, sessionmaker

from libs.settings import Settings, to_libpq_url, to_sqlalchemy_url


def make_engine(database_url: str, *, pool_size: int = 5, application_name: str = "sis-sync") -> Engine:
    return create_engine(
        to_sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"application_name": application_name},
        # a statement's parameters are request or roster data: keep them out of exception texts
        hide_parameters=True,
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


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def raw_connection(database_url: str, *, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    """A dedicated psycopg connection outside the pool, closed on exit."""
    conn = psycopg.connect(to_libpq_url(database_url), autocommit=autocommit, application_name="sis-sync-etl")
    try:
        yield conn
    finally:
        conn.close()


def dispose_engines() -> None:
    """Close every pooled connection of this process (at shutdown or test teardown)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()
