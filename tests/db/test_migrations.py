"""The schema: migrations go up and down, and the models agree with them."""

from __future__ import annotations

import re
import uuid
from enum import StrEnum

import psycopg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import CheckConstraint, Engine, create_engine, inspect, text
from sqlalchemy import Enum as SqlEnum
from sqlalchemy.exc import IntegrityError

from libs.db import migrate
from libs.db.models import Base
from libs.enums import EntityType, ProviderType, SyncMode, SyncStatus, SyncTrigger
from libs.settings import to_sqlalchemy_url
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


def test_postgres_enum_types_hold_exactly_the_python_enum_values(engine: Engine) -> None:
    # autogenerate does not compare enum values, so a value added in libs/enums.py without a
    # migration would only show up as a failed INSERT in production
    mapped: dict[str, type[StrEnum]] = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, SqlEnum) and column.type.enum_class is not None:
                mapped[str(column.type.name)] = column.type.enum_class
    assert mapped == {"sis_provider_type": ProviderType, "sis_sync_status": SyncStatus}
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT t.typname, e.enumlabel FROM pg_type t "
                "JOIN pg_enum e ON e.enumtypid = t.oid JOIN pg_namespace n ON n.oid = t.typnamespace "
                "WHERE n.nspname = current_schema() ORDER BY t.typname, e.enumsortorder"
            )
        ).all()
    in_database: dict[str, list[str]] = {}
    for name, label in rows:
        in_database.setdefault(name, []).append(label)
    assert in_database == {name: [member.value for member in enum] for name, enum in mapped.items()}


# check constraints that spell out a Python enum's values
CHECKED_ENUMS: dict[tuple[str, str], type[StrEnum]] = {
    ("sis_sync_runs", "ck_sis_sync_runs_trigger"): SyncTrigger,
    ("sis_sync_runs", "ck_sis_sync_runs_mode"): SyncMode,
    ("sis_entity_links", "ck_sis_entity_links_entity_type"): EntityType,
}


def _literals(sql: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", sql))


def test_check_constraints_of_the_models_exist_in_the_database_with_the_same_values(engine: Engine) -> None:
    # autogenerate ignores check constraints altogether; compare names and allowed values here
    declared = {
        (table.name, str(constraint.name)): _literals(str(constraint.sqltext))
        for table in Base.metadata.tables.values()
        for constraint in table.constraints
        if isinstance(constraint, CheckConstraint)
    }
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT c.conrelid::regclass::text AS table_name, c.conname, pg_get_constraintdef(c.oid) AS definition "
                "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE c.contype = 'c' AND c.conrelid <> 0 AND n.nspname = current_schema()"
            )
        ).all()
    in_database = {(row.table_name, row.conname): _literals(row.definition) for row in rows}
    assert set(in_database) == set(declared)
    assert in_database == declared
    for key, enum in CHECKED_ENUMS.items():
        assert declared[key] == {member.value for member in enum}, key


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
