"""The floor: binary COPY of a district's normalized rows plus one MERGE into an empty store.

It is what a sync cannot beat on this machine: the same rows, already in Python tuples, copied
into an UNLOGGED table and merged into a target with a primary key and a unique key, with no
validation, matching, links or reference resolution.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg

from devkit.generator import District
from libs.enums import LOAD_ORDER
from libs.etl.staging import _LAYOUTS


def measure_floor(database_url: str, district: District) -> dict[str, float]:
    rows: dict[str, list[tuple[Any, ...]]] = {}
    types: dict[str, list[str]] = {}
    columns: dict[str, list[str]] = {}
    for entity in LOAD_ORDER:
        layout = _LAYOUTS[entity]
        content = list(layout.content_columns)
        content_types = list(layout.types[len(layout.types) - len(content) :])
        data = []
        for record in district.records(entity):
            values = [list(v) if isinstance(v, tuple) else v for v in record.content()]
            data.append((record.external_id, *values))
        rows[entity.value] = data
        types[entity.value] = ["text", *content_types]
        columns[entity.value] = ["external_id", *content]
    timings: dict[str, float] = {}
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("SET work_mem = '64MB'")
        conn.execute("SET jit = off")
        total = 0.0
        for entity in LOAD_ORDER:
            name = entity.value
            cols = columns[name]
            defs = ", ".join(f"{c} {t}" for c, t in zip(cols, types[name], strict=True))
            conn.execute(f"DROP TABLE IF EXISTS floor_stage_{name}, floor_store_{name}")
            conn.execute(f"CREATE UNLOGGED TABLE floor_stage_{name} ({defs})")
            conn.execute(
                f"CREATE TABLE floor_store_{name} (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), {defs}, "
                f"UNIQUE (external_id))"
            )
            started = time.perf_counter()
            with (
                conn.cursor() as cursor,
                cursor.copy(f"COPY floor_stage_{name} ({', '.join(cols)}) FROM STDIN (FORMAT BINARY)") as copy,
            ):
                copy.set_types(types[name])
                for row in rows[name]:
                    copy.write_row(row)
            conn.execute(f"ANALYZE floor_stage_{name}")
            conn.execute(
                f"""
                MERGE INTO floor_store_{name} t USING floor_stage_{name} s ON t.external_id = s.external_id
                WHEN MATCHED THEN UPDATE SET {", ".join(f"{c} = s.{c}" for c in cols[1:])}
                WHEN NOT MATCHED THEN INSERT ({", ".join(cols)}) VALUES ({", ".join("s." + c for c in cols)})
                """
            )
            elapsed = time.perf_counter() - started
            timings[name] = round(elapsed, 3)
            total += elapsed
            conn.execute(f"DROP TABLE floor_stage_{name}, floor_store_{name}")
        timings["total"] = round(total, 3)
    return timings
