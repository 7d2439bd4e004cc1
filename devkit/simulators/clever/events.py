"""Clever's events log: what changed between two states of the simulated district.

Events get ObjectIds made from the time they are recorded (so they ascend and carry their age),
hold the full object (the last version for `.deleted`) and, for updates, `previous_attributes`
nested in `data` beside `object`, as real responses do. An enrollment change is a
`sections.updated` of its section. Events older than Clever's 30 days are not served.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

from devkit.generator import ids as gen_ids
from devkit.generator.catalog import timestamp
from devkit.simulators.clever.store import Store
from libs.connectors.records import Class, Enrollment, Record, School, Term, User

RETENTION_SECONDS = 30 * 86_400
_IGNORED = ("created", "last_modified")
_KINDS: dict[type[Record], tuple[str, str]] = {
    School: ("schools", "school"),
    Term: ("terms", "term"),
    Class: ("sections", "section"),
    User: ("users", "user"),
}


def previous_attributes(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The old values of what changed, as a nested partial (Clever's shape)."""
    changed: dict[str, Any] = {}
    for key in old.keys() | new.keys():
        if key in _IGNORED:
            continue
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict):
            changed[key] = previous_attributes(before, after)
        else:
            changed[key] = before
    return changed


class EventLog:
    def __init__(self) -> None:
        self.ids: list[str] = []
        self.blobs: dict[str, bytes] = {}
        self.events: dict[str, dict[str, Any]] = {}
        self._counter = 0

    def append(self, kind: str, obj: dict[str, Any], at: float, previous: dict[str, Any] | None = None) -> str:
        self._counter += 1
        event_id = f"{int(at):08x}{self._counter:016x}"
        data: dict[str, Any] = {"object": obj}
        if previous is not None:
            data["previous_attributes"] = previous
        event = {"id": event_id, "type": kind, "created": timestamp(datetime.fromtimestamp(at, UTC)), "data": data}
        self.ids.append(event_id)
        self.events[event_id] = event
        self.blobs[event_id] = json.dumps({"data": event, "uri": f"/v3.0/events/{event_id}"}).encode()
        return event_id

    def visible(self, now: float | None = None) -> list[str]:
        oldest = f"{int((time.time() if now is None else now) - RETENTION_SECONDS):08x}"
        return [event_id for event_id in self.ids if event_id[:8] >= oldest]

    def record_changes(self, old: Store, new: Store, changes: list[tuple[str, Record]], at: float) -> int:
        """Append the events that turn `old` into `new`; returns how many."""
        before = len(self.ids)
        done: set[tuple[str, str]] = set()
        touched_sections: set[str] = set()
        for _kind, record in changes:
            if isinstance(record, Enrollment):
                touched_sections.add(gen_ids.clever_id("section", record.class_external_id or ""))
                continue
            collection, id_kind = _KINDS[type(record)]
            clever_id = gen_ids.clever_id(id_kind, record.external_id)
            if (collection, clever_id) not in done:
                done.add((collection, clever_id))
                self._object_event(collection, clever_id, old, new, at)
        for section_id in sorted(touched_sections):
            if ("sections", section_id) not in done:
                done.add(("sections", section_id))
                self._object_event("sections", section_id, old, new, at)
        # the simulator's own users (guardian contacts) follow the students they belong to
        for contact_id in sorted(set(old.by_role.get("contact", ())) ^ set(new.by_role.get("contact", ()))):
            self._object_event("users", contact_id, old, new, at)
        return len(self.ids) - before

    def _object_event(self, collection: str, object_id: str, old: Store, new: Store, at: float) -> None:
        before, after = old.get(collection, object_id), new.get(collection, object_id)
        if after is not None and before != after:
            after["last_modified"] = timestamp(datetime.fromtimestamp(at, UTC))
            new.collections[collection].add(after)
        if before is None and after is not None:
            self.append(f"{collection}.created", after, at)
        elif before is not None and after is None:
            self.append(f"{collection}.deleted", before, at)
        elif before is not None and after is not None:
            previous = previous_attributes(before, after)
            if previous:
                self.append(f"{collection}.updated", after, at, previous)
