"""The simulator's data: each collection pre-serialised, sorted by sourcedId, with change stamps.

Serving a page is joining byte strings, so an M district (100k users, half a million
enrollments) is served as fast as the connector can read it. Replacing the roster (churn)
diffs it against the previous one: changed and new objects get a fresh `dateLastModified`,
removed ones stay as `tobedeleted` tombstones, unchanged ones keep their old stamp, so a
`dateLastModified>` filter returns exactly what changed.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from devkit.generator.catalog import timestamp
from devkit.simulators.oneroster.roster import Roster, Serializer

BASE_STAMP = "2025-06-01T00:00:00.000Z"
# a collection's per-record lists, in the order of a row of Collection.from_rows
_COLUMNS = ("ids", "blobs", "modified", "digests", "deleted", "school", "kind")


def utc_stamp(now: datetime | None = None) -> str:
    return timestamp(now or datetime.now(UTC))


@dataclass
class Collection:
    name: str
    ids: list[str] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)
    digests: list[bytes] = field(default_factory=list)
    deleted: list[bool] = field(default_factory=list)
    # the org a record belongs to (school of a class / enrollment, type of an org), for routes
    school: list[str | None] = field(default_factory=list)
    kind: list[str | None] = field(default_factory=list)
    views: dict[tuple[Any, ...], list[int]] = field(default_factory=dict)

    # caches; a collection is never changed in place (churn builds a new one), so they stay true
    _index: dict[str, int] | None = None
    _by_school: dict[str, list[int]] | None = None

    @classmethod
    def from_rows(cls, name: str, rows: list[tuple[Any, ...]]) -> Collection:
        """(sid, blob, modified, digest, deleted, school, kind) rows, sorted here by sid."""
        out = cls(name)
        for attr, column in zip(_COLUMNS, zip(*sorted(rows, key=lambda row: row[0]), strict=False), strict=False):
            setattr(out, attr, list(column))
        return out

    def index(self) -> dict[str, int]:
        if self._index is None:
            self._index = {sid: i for i, sid in enumerate(self.ids)}
        return self._index

    def of_school(self, school: str) -> list[int]:
        """Positions of the records of one school (one pass builds the index of all schools)."""
        if self._by_school is None:
            grouped: dict[str, list[int]] = {}
            for i, sid in enumerate(self.school):
                if sid is not None:
                    grouped.setdefault(sid, []).append(i)
            self._by_school = grouped
        return self._by_school.get(school, [])


def _content(blob: bytes) -> bytes:
    return blob[: blob.rfind(b',"status":"')] + b"}"


def _blob(content: bytes, stamp: str, deleted: bool) -> bytes:
    status = b"tobedeleted" if deleted else b"active"
    return content[:-1] + b',"status":"' + status + b'","dateLastModified":"' + stamp.encode() + b'"}'


# collection -> the reference to the school a record belongs to (what /schools/{id}/... selects on)
_SCHOOL_REF = {"classes": "school", "enrollments": "school", "courses": "org"}
# collection -> the field the narrower routes select on: /schools, /terms, /students, /teachers
_KIND_FIELD = {"orgs": "type", "academicSessions": "type", "users": "role"}


def _school_of(name: str, obj: dict[str, Any]) -> str | None:
    ref = (obj.get(_SCHOOL_REF[name]) or {}) if name in _SCHOOL_REF else {}
    return str(ref["sourcedId"]) if ref.get("sourcedId") else None


def _kind(name: str, obj: dict[str, Any]) -> str | None:
    return str(obj.get(_KIND_FIELD[name])) if name in _KIND_FIELD else None


def build_collection(name: str, objects: Iterator[tuple[str, dict[str, Any]]], stamp: str) -> Collection:
    rows = []
    for sid, obj in objects:
        # orjson: serialising half a million enrollments with the stdlib took most of the build
        content = orjson.dumps(obj)
        digest = hashlib.blake2b(content, digest_size=8).digest()
        rows.append((sid, _blob(content, stamp, False), stamp, digest, False, _school_of(name, obj), _kind(name, obj)))
    return Collection.from_rows(name, rows)


def diff_collection(old: Collection, new: Collection, stamp: str) -> tuple[Collection, dict[str, int]]:
    """`new` with old stamps kept where nothing changed, and tombstones for what left."""
    before = old.index()
    changes = {"added": 0, "changed": 0, "deleted": 0, "unchanged": 0}
    rows: list[tuple[Any, ...]] = []
    present = set()
    for i, sid in enumerate(new.ids):
        present.add(sid)
        j = before.get(sid)
        if j is not None and not old.deleted[j] and old.digests[j] == new.digests[i]:
            changes["unchanged"] += 1
            rows.append((sid, old.blobs[j], old.modified[j], old.digests[j], False, new.school[i], new.kind[i]))
            continue
        changes["added" if j is None or old.deleted[j] else "changed"] += 1
        blob = _blob(_content(new.blobs[i]), stamp, False)
        rows.append((sid, blob, stamp, new.digests[i], False, new.school[i], new.kind[i]))
    for j, sid in enumerate(old.ids):
        if sid in present:
            continue
        if old.deleted[j]:
            rows.append((sid, old.blobs[j], old.modified[j], old.digests[j], True, old.school[j], old.kind[j]))
        else:
            changes["deleted"] += 1
            blob = _blob(_content(old.blobs[j]), stamp, True)
            rows.append((sid, blob, stamp, old.digests[j], True, old.school[j], old.kind[j]))
    return Collection.from_rows(new.name, rows), changes


class Store:
    """All collections of one district; swapped whole under a lock, read without one."""

    def __init__(self, roster: Roster, serializer: Serializer) -> None:
        self.serializer = serializer
        self._lock = threading.Lock()
        self.collections = self._build(roster, BASE_STAMP)
        self.roster = roster
        self._added = 0

    def _build(self, roster: Roster, stamp: str) -> dict[str, Collection]:
        s = self.serializer
        sources: dict[str, Callable[[Roster], Iterator[tuple[str, dict[str, Any]]]]] = {
            "orgs": s.orgs,
            "academicSessions": s.academic_sessions,
            "courses": s.courses,
            "classes": s.classes,
            "users": s.users,
            "enrollments": s.enrollments,
        }
        return {name: build_collection(name, make(roster), stamp) for name, make in sources.items()}

    def replace(self, roster: Roster) -> dict[str, dict[str, int]]:
        """Serve `roster` from now on; returns what changed per collection."""
        stamp = utc_stamp()
        fresh = self._build(roster, stamp)
        report = {}
        with self._lock:
            merged = {}
            for name, collection in fresh.items():
                merged[name], report[name] = diff_collection(self.collections[name], collection, stamp)
            self.collections = merged
            self.roster = roster
        return report

    def add_copy(self, name: str) -> str:
        """Append a new object (a copy of the last one under a new id) to a collection, now."""
        with self._lock:
            current = self.collections[name]
            self._added += 1
            sid = f"zzzz-added-{self._added}"
            source = json.loads(_content(current.blobs[-1]))
            source["sourcedId"] = sid
            extra = build_collection(name, iter([(sid, source)]), utc_stamp())
            grown = Collection(name)
            for attr in _COLUMNS:
                setattr(grown, attr, getattr(current, attr) + getattr(extra, attr))
            self.collections = {**self.collections, name: grown}
        return sid


__all__ = ["BASE_STAMP", "Collection", "Store", "build_collection", "diff_collection", "utc_stamp"]
