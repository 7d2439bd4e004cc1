"""The extract steps of a full Clever sync, one reader per step.

Users are split by role into two steps that run in parallel. A multi-role user appears in
several role lists, so each list keeps only the users whose highest roster role is the list's
own: every Clever id is yielded exactly once per run, even by a server that ignores `role`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from libs.connectors.base import Extraction, ExtractStep
from libs.connectors.clever import mapping
from libs.connectors.clever.api import CleverApi, Listing
from libs.connectors.records import Item
from libs.enums import EntityType

SCHOOLS = ExtractStep("schools", (EntityType.SCHOOL,))
TERMS = ExtractStep("terms", (EntityType.TERM,))
SECTIONS = ExtractStep("sections", (EntityType.CLASS, EntityType.ENROLLMENT))
STUDENTS = ExtractStep("students", (EntityType.USER,))
STAFF = ExtractStep("staff", (EntityType.USER,))
FULL_STEPS = (SCHOOLS, TERMS, SECTIONS, STUDENTS, STAFF)


class CleverExtraction(Extraction):
    """Runs one step's reader and records what it read in `source`."""

    def __init__(self, step: ExtractStep, api: CleverApi, reader: Callable[[CleverExtraction], Iterator[Item]]) -> None:
        super().__init__(step)
        self.api = api
        self._reader = reader
        self.lists: dict[str, dict[str, int]] = {}
        self.last_event_id: str | None = step.params.get("eventsFrom")
        note = step.params.get("note")
        if note:
            for outcome in self.outcomes.values():
                outcome.message = note

    def __iter__(self) -> Iterator[Item]:
        try:
            yield from self._reader(self)
        finally:
            self._record_source()

    def read(self, path: str, params: dict[str, str] | None = None) -> Iterator[tuple[dict[str, Any], str]]:
        """Every object of a Clever list with its page reference; checks the list's order at the end."""
        listing = self.api.listing(path, params)
        for page in listing:
            for obj in page.items:
                yield obj, page.ref
        self._account(listing)

    def _account(self, listing: Listing) -> None:
        self.lists[listing.display] = {
            "pages": listing.pages,
            "items": listing.items,
            "missingNext": listing.missing_next,
            "outOfOrder": listing.out_of_order,
        }
        if listing.out_of_order:
            for entity_type in self.step.entity_types:
                self.mark_incomplete(
                    entity_type,
                    f"Clever listed {listing.out_of_order} items of {listing.path} out of id order; "
                    "paging may have skipped some, so nothing is deactivated",
                )

    def _record_source(self) -> None:
        self.source["requests"] = self.api.session.stats.as_dict()
        self.source["pages"] = sum(entry["pages"] for entry in self.lists.values())
        self.source["lists"] = self.lists
        if self.last_event_id:
            self.source["lastEventId"] = self.last_event_id


def read_schools(x: CleverExtraction) -> Iterator[Item]:
    for obj, ref in x.read("/schools"):
        yield mapping.school(obj, ref)


def read_terms(x: CleverExtraction) -> Iterator[Item]:
    for obj, ref in x.read("/terms"):
        yield mapping.term(obj, ref)


def read_courses(x: CleverExtraction) -> dict[str, dict[str, Any]]:
    return mapping.course_index([obj for obj, _ in x.read("/courses")])


def read_sections(x: CleverExtraction) -> Iterator[Item]:
    courses = read_courses(x)
    for obj, ref in x.read("/sections"):
        yield from mapping.section(obj, courses, ref)


def read_role(x: CleverExtraction, role: str) -> Iterator[Item]:
    include_staff = x.api.config.include_staff
    for obj, ref in x.read("/users", {"role": role}):
        if mapping.roster_role(obj, include_staff) == role:
            yield mapping.user(obj, role, ref)


def read_students(x: CleverExtraction) -> Iterator[Item]:
    yield from read_role(x, "student")


def read_staff(x: CleverExtraction) -> Iterator[Item]:
    yield from read_role(x, "teacher")
    if x.api.config.include_staff:
        yield from read_role(x, "staff")


def read_everything(x: CleverExtraction) -> Iterator[Item]:
    """The whole district in one stream (the events step falling back to a full sync)."""
    for reader in (read_schools, read_terms, read_sections, read_students, read_staff):
        yield from reader(x)


READERS: dict[str, Callable[[CleverExtraction], Iterator[Item]]] = {
    SCHOOLS.name: read_schools,
    TERMS.name: read_terms,
    SECTIONS.name: read_sections,
    STUDENTS.name: read_students,
    STAFF.name: read_staff,
}
