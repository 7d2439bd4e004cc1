"""Writes canonical records into the `sis_raw_*` staging tables with binary COPY, in batches.

The one COPY helper of the project. Records of several entity types may arrive interleaved
(a Clever section brings its class and its enrollments together), so rows are buffered per
type and each full buffer goes out as one COPY statement. After every flush `on_batch` runs:
the extract phase heartbeats there, which extends the lease and stops at a cancel.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from libs.connectors.records import RECORD_TYPES, Record, RecordError
from libs.db.models.staging import STAGING_TABLES
from libs.enums import EntityType

COMMON_COLUMNS = ("run_id", "seq", "external_id", "tombstone", "source_ref", "row_hash", "raw", "status", "error")
COMMON_TYPES = ("uuid", "int8", "text", "bool", "text", "bytea", "jsonb", "text", "text")

ERROR_COLUMNS = ("run_id", "entity_type", "external_id", "source", "line", "field", "code", "message")
ERROR_TYPES = ("uuid", "varchar", "text", "text", "int4", "text", "varchar", "text")

# a step ordinal lives in the high bits of `seq`, so parallel steps of one run never collide
SEQ_STEP_SHIFT = 40

# a broken feed can produce an error per row; past this many per step only the count is kept
MAX_STORED_ERRORS_PER_STEP = 50_000


def _column_type(table_column: Any) -> str:
    from sqlalchemy import ARRAY, Boolean, Date, Text

    column_type = table_column.type
    if isinstance(column_type, ARRAY):
        return "text[]"
    if isinstance(column_type, Boolean):
        return "bool"
    if isinstance(column_type, Date):
        return "date"
    if isinstance(column_type, Text):
        return "text"
    raise TypeError(f"unsupported staging column type {column_type!r}")


class _Layout:
    """Column names and COPY types of one staging table, derived from the model."""

    def __init__(self, entity: EntityType) -> None:
        table = STAGING_TABLES[entity]
        record_type = RECORD_TYPES[entity]
        self.table = table.name
        self.content_fields: tuple[str, ...] = record_type.content_fields
        columns = {c.name: c for c in table.columns}
        # canonical field name -> staging column name (Enrollment.primary is is_primary)
        self.content_columns = tuple("is_primary" if f == "primary" else f for f in self.content_fields)
        missing = [c for c in self.content_columns if c not in columns]
        if missing:
            raise RuntimeError(f"{self.table} lacks columns {missing}")
        self.columns = COMMON_COLUMNS + self.content_columns
        self.types = COMMON_TYPES + tuple(_column_type(columns[c]) for c in self.content_columns)
        # positions within the content values (not the row) of the text[] columns
        self.array_positions = tuple(
            i - len(COMMON_COLUMNS) for i, t in enumerate(self.types) if t == "text[]" and i >= len(COMMON_COLUMNS)
        )
        self.copy_sql = f"COPY {self.table} ({', '.join(self.columns)}) FROM STDIN (FORMAT BINARY)"


_LAYOUTS = {entity: _Layout(entity) for entity in EntityType}


def _raw(value: dict[str, Any] | None) -> Jsonb | None:
    return None if value is None else Jsonb(value, dumps=_dumps)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)


class StagingWriter:
    """Buffers records per entity type and COPYs them into staging for one run and step."""

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        run_id: uuid.UUID,
        *,
        step_ordinal: int,
        batch_rows: int = 10_000,
        on_batch: Callable[[], None] | None = None,
    ) -> None:
        self._conn = conn
        self._run_id = run_id
        self._seq = step_ordinal << SEQ_STEP_SHIFT
        self._batch_rows = batch_rows
        self._on_batch = on_batch
        self._buffers: dict[EntityType, list[Sequence[Any]]] = {}
        self._errors: list[Sequence[Any]] = []
        self.counts: dict[EntityType, int] = {}
        self.error_counts: dict[EntityType | None, int] = {}
        # errors of an entity type that name no id: received records with no staging row
        self.unstaged: dict[EntityType, int] = {}
        self.errors_dropped = 0
        self._stored_errors = 0

    def add(self, record: Record) -> None:
        # the per-record path of every extract (millions of calls): no helper calls beyond the
        # record's own content and hash
        entity = record.entity_type
        layout = _LAYOUTS[entity]
        self._seq += 1
        values = record.content()
        digest = record.row_hash(values)
        content: Sequence[Any] = values
        if layout.array_positions:
            content = list(values)
            for index in layout.array_positions:
                content[index] = list(content[index])
        raw = record.raw
        row = (
            self._run_id,
            self._seq,
            record.external_id,
            record.tombstone,
            record.source_ref,
            digest,
            None if raw is None else Jsonb(raw, dumps=_dumps),
            None,
            None,
            *content,
        )
        buffer = self._buffers.get(entity)
        if buffer is None:
            buffer = self._buffers[entity] = []
        buffer.append(row)
        self.counts[entity] = self.counts.get(entity, 0) + 1
        if len(buffer) >= self._batch_rows:
            self._flush_entity(entity)
            self._batch_done()

    def add_error(self, error: RecordError) -> None:
        """Store the error; a row that names its id stays "present" so it is never deactivated."""
        self.error_counts[error.entity_type] = self.error_counts.get(error.entity_type, 0) + 1
        if self._stored_errors >= MAX_STORED_ERRORS_PER_STEP:
            self.errors_dropped += 1
        else:
            self._stored_errors += 1
            self._errors.append(
                (
                    self._run_id,
                    error.entity_type.value if error.entity_type else None,
                    error.external_id,
                    error.source,
                    error.line,
                    error.field,
                    error.code,
                    error.message,
                )
            )
        if error.entity_type is not None and error.external_id:
            layout = _LAYOUTS[error.entity_type]
            self._seq += 1
            source_ref = f"{error.source}:{error.line}" if error.source and error.line else error.source
            row = (
                self._run_id,
                self._seq,
                error.external_id,
                False,
                source_ref,
                None,
                _raw(error.raw),
                "invalid",
                error.message,
                *([None] * len(layout.content_columns)),
            )
            self._buffers.setdefault(error.entity_type, []).append(row)
        elif error.entity_type is not None:
            self.unstaged[error.entity_type] = self.unstaged.get(error.entity_type, 0) + 1
        if len(self._errors) >= self._batch_rows:
            self._flush_errors()

    def flush(self) -> None:
        for entity in list(self._buffers):
            self._flush_entity(entity)
        self._flush_errors()
        self._batch_done()

    def _batch_done(self) -> None:
        if self._on_batch is not None:
            self._on_batch()

    def _flush_entity(self, entity: EntityType) -> None:
        rows = self._buffers.get(entity)
        if not rows:
            return
        layout = _LAYOUTS[entity]
        with self._conn.cursor() as cursor, cursor.copy(layout.copy_sql) as copy:
            copy.set_types(list(layout.types))
            for row in rows:
                copy.write_row(row)
        rows.clear()

    def _flush_errors(self) -> None:
        if not self._errors:
            return
        sql = f"COPY sis_sync_errors ({', '.join(ERROR_COLUMNS)}) FROM STDIN (FORMAT BINARY)"
        with self._conn.cursor() as cursor, cursor.copy(sql) as copy:
            copy.set_types(list(ERROR_TYPES))
            for row in self._errors:
                copy.write_row(row)
        self._errors.clear()
