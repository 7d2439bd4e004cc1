"""The schema: migrations go up and down, and the models agree with them."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import IntegrityError

from libs.db import migrate
from libs.db.models import Base
from libs.db.settings import to_sqlalchemy_url
from tests.support.database import fresh_database


def test_upgrade_then_downgrade_to_base_leaves_an_empty_schema(postgres_url: str) -> None:
    with fresh_database(postgres_url, "updown") as url:
        engine = create_engine(to_sqlalchemy_url(url))
        try:
            assert "sis_sync_runs" in inspect(engine).get_table_names()
            migrate.downgrade(url, "base")
            with engine.connect() as conn:
                tables = set(inspect(conn).get_table_names()) - {"alembic_version"}
                types = conn.execute(text("SELECT typname FROM pg_type WHERE typname LIKE 'sis_%'")).scalars().all()
            assert tables == set()
            assert types == []
            migrate.upgrade(url)
            assert "sis_entity_links" in inspect(engine).get_table_names()
        finally:
            engine.dispose()


def test_models_and_migrations_agree(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_staging_tables_are_unlogged(engine: Engine) -> None:
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT relname, relpersistence FROM pg_class WHERE relname LIKE 'sis_raw_%' AND relkind = 'r'")
        ).all()
    assert {name for name, _ in rows} == {
        "sis_raw_schools",
        "sis_raw_terms",
        "sis_raw_classes",
        "sis_raw_users",
        "sis_raw_enrollments",
    }
    assert {persistence for _, persistence in rows} == {"u"}


def _provider(conn: psycopg.Connection) -> uuid.UUID:
    provider_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext) "
        "VALUES (%s, 't1', 'CLEVER', 'p', '\\x00')",
        (provider_id,),
    )
    return provider_id


def _run(conn: psycopg.Connection, provider_id: uuid.UUID, status: str) -> None:
    conn.execute(
        "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual) "
        "VALUES (%s, %s, 't1', %s, 'manual', true)",
        (uuid.uuid4(), provider_id, status),
    )


def test_a_second_active_run_for_a_provider_is_rejected(db: Engine, database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        provider_id = _provider(conn)
        _run(conn, provider_id, "PENDING")
        with pytest.raises(psycopg.errors.UniqueViolation):
            _run(conn, provider_id, "PENDING")
        with pytest.raises(psycopg.errors.UniqueViolation):
            _run(conn, provider_id, "IN_PROGRESS")
        # finished runs do not count: history may hold any number of them
        _run(conn, provider_id, "SUCCESS")
        _run(conn, provider_id, "FAILURE")
        other = _provider(conn)
        _run(conn, other, "PENDING")


def test_unique_index_holds_through_sqlalchemy_too(db: Engine) -> None:
    with db.begin() as conn:
        provider_id = uuid.uuid4()
        conn.execute(
            text(
                "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext) "
                "VALUES (:id, 't', 'ONEROSTER_CSV', 'p', '\\x00')"
            ),
            {"id": provider_id},
        )
    insert = text(
        "INSERT INTO sis_sync_runs (id, provider_id, tenant_id, status, trigger, is_manual) "
        "VALUES (gen_random_uuid(), :p, 't', 'IN_PROGRESS', 'schedule', false)"
    )
    with db.begin() as conn:
        conn.execute(insert, {"p": provider_id})
    with pytest.raises(IntegrityError), db.begin() as conn:
        conn.execute(insert, {"p": provider_id})
