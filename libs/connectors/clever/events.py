"""Incremental syncs from Clever's events: a delta of what changed since the last event read.

Event ids are ObjectIds whose first 4 bytes are the creation time in seconds, so a cursor can
be made from a time (the start of a full sync, less a margin for clock skew) and a cursor's age
is known without asking Clever. Events are kept 30 days; an older cursor means a full sync.

All events since the cursor are read first and coalesced to the last change per object, then
yielded: replaying a change twice is harmless (events are applied idempotently), and an error
while reading leaves nothing half-applied, so the step can fall back to a full sync cleanly.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from libs.connectors.base import FeedMode
from libs.connectors.clever import mapping
from libs.connectors.clever.extraction import CleverExtraction, read_everything
from libs.connectors.errors import ConnectorError
from libs.connectors.records import Class, Item, School, Term, User
from libs.enums import EntityType

EVENTS_RETENTION_SECONDS = 30 * 86_400
# a cursor this old may already have lost events at the far end of the window
SAFE_CURSOR_AGE_SECONDS = 29 * 86_400
# how far before a full sync's start its event cursor is placed (clock skew, slow plans)
CURSOR_MARGIN_SECONDS = 600
# answers of /events that mean "these events are not available to you", not "Clever is down"
UNAVAILABLE_STATUSES = frozenset({400, 403, 404, 410})

HANDLED = ("schools", "terms", "courses", "sections", "users")


def objectid_seconds(object_id: str) -> int | None:
    if len(object_id) != 24:
        return None
    try:
        int(object_id, 16)
    except ValueError:
        return None
    return int(object_id[:8], 16)


def objectid_at(seconds: float) -> str:
    """The smallest ObjectId of a second: every event created from then on sorts after it."""
    return f"{int(seconds):08x}" + "0" * 16


def cursor_for_full_sync(now: float | None = None) -> str:
    return objectid_at((time.time() if now is None else now) - CURSOR_MARGIN_SECONDS)


def stale_reason(cursor: str | None, now: float | None = None) -> str | None:
    """Why `cursor` cannot start an incremental sync, or None when it can."""
    if not cursor:
        return "no event cursor from an earlier sync"
    seconds = objectid_seconds(cursor)
    if seconds is None:
        return f"the event cursor {cursor!r} is not a Clever event id"
    age = (time.time() if now is None else now) - seconds
    if age > SAFE_CURSOR_AGE_SECONDS:
        return f"the last event read is {age / 86_400:.0f} days old, beyond Clever's 30-day events window"
    return None


class TooManyEvents(Exception):
    pass


def read_changes(x: CleverExtraction) -> Iterator[Item]:
    """The events step: a delta since `params.cursor`, or a full snapshot when events cannot serve."""
    cursor = x.step.params["cursor"]
    try:
        changes = _collect(x, cursor)
    except TooManyEvents as exc:
        yield from _full_instead(x, str(exc))
        return
    except ConnectorError as exc:
        if exc.details.get("status") not in UNAVAILABLE_STATUSES:
            raise
        yield from _full_instead(x, f"Clever did not serve events after {cursor} ({exc.message})")
        return
    for outcome in x.outcomes.values():
        outcome.mode = FeedMode.DELTA
    yield from _apply(x, changes)


def _full_instead(x: CleverExtraction, reason: str) -> Iterator[Item]:
    x.last_event_id = cursor_for_full_sync()
    for outcome in x.outcomes.values():
        outcome.mode = FeedMode.FULL
        outcome.message = f"incremental sync fell back to a full sync: {reason}"
    yield from read_everything(x)


def _collect(x: CleverExtraction, cursor: str) -> dict[tuple[str, str], tuple[str, dict[str, Any], str]]:
    limit = x.api.config.max_incremental_events
    changes: dict[tuple[str, str], tuple[str, dict[str, Any], str]] = {}
    count = 0
    last = cursor
    for event, ref in x.read("/events", {"starting_after": cursor}):
        count += 1
        if count > limit:
            raise TooManyEvents(f"more than {limit} events since the last sync")
        last = str(event.get("id") or last)
        record_type, _, action = str(event.get("type") or "").partition(".")
        data: dict[str, Any] = event["data"] if isinstance(event.get("data"), dict) else {}
        obj = data.get("object")
        if record_type not in HANDLED or not isinstance(obj, dict) or not obj.get("id"):
            continue
        # real events nest previous_attributes in data; the spec puts it beside data
        previous = data.get("previous_attributes") or event.get("previous_attributes") or {}
        key = (record_type, str(obj["id"]))
        changes.pop(key, None)  # keep the order of last changes
        changes[key] = (action, {"object": obj, "previous": previous}, f"{ref} event {event.get('id')}")
    x.last_event_id = last
    x.source["events"] = count
    return changes


def _apply(x: CleverExtraction, changes: dict[tuple[str, str], tuple[str, dict[str, Any], str]]) -> Iterator[Item]:
    include_staff = x.api.config.include_staff
    courses: dict[str, dict[str, Any]] | None = None
    complete_classes: set[str] = set()
    changed_courses: dict[str, dict[str, Any]] = {}
    for (record_type, object_id), (action, change, ref) in changes.items():
        obj: dict[str, Any] = change["object"]
        deleted = action == "deleted"
        if record_type == "schools":
            yield School(external_id=object_id, tombstone=True, source_ref=ref) if deleted else mapping.school(obj, ref)
        elif record_type == "terms":
            yield Term(external_id=object_id, tombstone=True, source_ref=ref) if deleted else mapping.term(obj, ref)
        elif record_type == "users":
            yield from _user_change(obj, object_id, deleted, change["previous"], include_staff, ref)
        elif record_type == "sections":
            complete_classes.add(object_id)
            if deleted:
                yield Class(external_id=object_id, tombstone=True, source_ref=ref)
            else:
                if courses is None:
                    courses = _courses(x)
                yield from mapping.section(obj, courses, ref)
        elif record_type == "courses" and not deleted:
            changed_courses[object_id] = obj
    # a renamed course changes the course title of every section that uses it
    for course_id, course in changed_courses.items():
        if courses is None:
            courses = _courses(x)
        courses[course_id] = course
        for obj, ref in x.read(f"/courses/{course_id}/sections"):
            section_id = str(obj.get("id") or "")
            if section_id and section_id not in complete_classes:
                complete_classes.add(section_id)
                yield from mapping.section(obj, courses, ref)
    if EntityType.ENROLLMENT in x.outcomes:
        x.outcomes[EntityType.ENROLLMENT].complete_classes = frozenset(complete_classes)


def _courses(x: CleverExtraction) -> dict[str, dict[str, Any]]:
    return mapping.course_index([obj for obj, _ in x.read("/courses")])


def _user_change(
    obj: dict[str, Any], object_id: str, deleted: bool, previous: Any, include_staff: bool, ref: str
) -> Iterator[Item]:
    role = mapping.roster_role(obj, include_staff)
    if deleted:
        if role is not None:
            yield User(external_id=object_id, tombstone=True, source_ref=ref)
        return
    if role is not None:
        yield mapping.user(obj, role, ref)
        return
    # no roster role now: a tombstone only if the change took one away (contacts change a lot)
    previous_roles = previous.get("roles") if isinstance(previous, dict) else None
    if isinstance(previous_roles, dict) and mapping.roster_role({"roles": previous_roles}, include_staff):
        yield User(external_id=object_id, tombstone=True, source_ref=ref)
