"""Database engines: one pooled SQLAlchemy engine per process and database URL."""

from __future__ import annotations

import threading
import time

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import DBAPIError

from libs.settings import Settings, to_sqlalchemy_url


def make_engine(database_url: str, *, pool_size: int = 5, application_name: str = "sis-sync") -> Engine:
    return create_engine(
        to_sqlalchemy_url(database_url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_pre_ping=True,
        pool_recycle=1800,
        # a peer that vanished (host down, network partition) is noticed in about a minute
        # instead of after the kernel's two hours, on both the client and the server side
        connect_args={
            "application_name": application_name,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "options": "-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3",
        },
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


def dispose_engines() -> None:
    """Close every pooled connection of this process (at shutdown or test teardown)."""
    with _LOCK:
        for engine in _ENGINES.values():
            engine.dispose()
        _ENGINES.clear()


def reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except DBAPIError:
        return False
    return True


def await_database(engine: Engine, *, since: float, give_up_after: float) -> float | None:
    """Seconds since `since` (a monotonic time) once the database answers again; None when it
    has not answered within `give_up_after` seconds of `since`."""
    pause = 0.5
    while not reachable(engine):
        if time.monotonic() - since > give_up_after:
            return None
        time.sleep(pause)
        pause = min(pause * 2, 5.0)
    return time.monotonic() - since
