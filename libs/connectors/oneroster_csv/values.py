"""Cell values of OneRoster rows: dates, booleans, status, optional text, the extras kept in `raw`.

Shared by the per-file builders (mapping.py, users.py); plain functions, as they run per cell.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from libs.connectors.oneroster_csv.stream import CsvStream
from libs.connectors.oneroster_vocabulary import BOOLEANS, TOMBSTONE_STATUSES
from libs.connectors.records import Item


def parse_date(text: str) -> date | None:
    """`YYYY-MM-DD`; a datetime in a date column keeps its date part as written (no zone shift)."""
    if len(text) == 10:
        # the common case, a plain date, without the stripping and slicing below (a million calls)
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
    text = text.strip()
    if not text:
        return None
    if len(text) > 10 and text[10] in "T ":
        text = text[:10]
    return date.fromisoformat(text)


def parse_bool(text: str, default: bool) -> bool | None:
    value = BOOLEANS.get(text)
    if value is not None:
        return value
    text = text.strip()
    if not text:
        return default
    return BOOLEANS.get(text.lower())


def cell(row: list[str], position: int) -> str | None:
    if position < 0:
        return None
    return row[position].strip() or None


def raw_extras(row: list[str], extras: list[tuple[int, str]]) -> dict[str, Any] | None:
    raw: dict[str, Any] | None = None
    for position, name in extras:
        value = row[position]
        if value:
            if raw is None:
                raw = {}
            raw[name] = value
    return raw


@dataclass
class PackageState:
    """What one file tells the next: course titles for classes, roles for 1.2 users, non-school orgs."""

    courses: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    # 1.2: user sourcedId -> (role as written, org sourcedIds with the primary role's first)
    roles: dict[str, tuple[str, tuple[str, ...]]] | None = None
    # orgs that are not schools (district, department...): sourcedId -> type as written
    non_school_orgs: dict[str, str] = field(default_factory=dict)
    # every org of orgs.csv with a parent: (sourcedId, parentSourcedId, line), to find dangling parents
    org_parents: list[tuple[str, str, int]] = field(default_factory=list)
    org_ids: set[str] = field(default_factory=set)
    student_number_id_type: str | None = None
    skipped: Counter[str] = field(default_factory=Counter)


class RowStatus:
    """A row's status column: active (or blank), a tombstone, or a value we do not know."""

    ACTIVE, GONE, INVALID = 0, 1, 2

    def __init__(self, stream: CsvStream) -> None:
        self.position = stream.header.col("status")
        self.stream = stream

    def __call__(self, row: list[str]) -> int:
        if self.position < 0:
            return self.ACTIVE
        value = row[self.position]
        if not value:
            return self.ACTIVE
        value = value.strip().lower()
        if value in ("", "active"):
            return self.ACTIVE
        return self.GONE if value in TOMBSTONE_STATUSES else self.INVALID

    def error(self, row: list[str], line: int) -> Item:
        text = row[self.position]
        return self.stream.error(row, line, "invalid_value", f"status '{text}' is not active or tobedeleted", "status")


def missing_id(stream: CsvStream, row: list[str], line: int) -> Item:
    return stream.error(row, line, "missing_id", "the row has no sourcedId", "sourcedId")


__all__ = [
    "TOMBSTONE_STATUSES",
    "PackageState",
    "RowStatus",
    "cell",
    "missing_id",
    "parse_bool",
    "parse_date",
    "raw_extras",
]
