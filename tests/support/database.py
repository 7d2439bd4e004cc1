"""A fresh, migrated database per test session (and per xdist worker)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from libs.db import migrate

# tables the tests may fill; truncated between tests that ask for a clean database
DATA_TABLES = (
    "sis_webhook_deliveries",
    "sis_webhooks",
    "sis_sync_errors",
    "sis_sync_run_steps",
    "sis_raw_schools",
    "sis_raw_terms",
    "sis_raw_classes",
    "sis_raw_users",
    "sis_raw_enrollments",
    "sis_entity_links",
    "enrollments",
    "classes",
    "users",
    "terms",
    "schools",
    "sis_sync_runs",
    "sis_providers",
    "audit_log",
)


def with_database(url: str, name: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = name
    return "postgresql://" + _as_url(params)


def _as_url(params: dict[str, object]) -> str:
    # build a URL (alembic and SQLAlchemy want URLs); a unix socket host goes in the query
    from urllib.parse import quote

    user = quote(str(params.get("user") or "postgres"))
    password = params.get("password")
    auth = f"{user}:{quote(str(password))}@" if password else f"{user}@"
    host = str(params.get("host") or "")
    port = params.get("port")
    db = quote(str(params["dbname"]))
    if host.startswith("/"):
        query = f"?host={quote(host)}" + (f"&port={port}" if port else "")
        return f"{auth}/{db}{query}"
    return f"{auth}{host}{':' + str(port) if port else ''}/{db}"


@contextmanager
def fresh_database(server_url: str, label: str) -> Iterator[str]:
    name = f"sis_test_{label}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(make_conninfo(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = with_database(server_url, name)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        with psycopg.connect(make_conninfo(server_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def truncate_all(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE " + ", ".join(DATA_TABLES) + " RESTART IDENTITY CASCADE")
