"""One extract step against a OneRoster REST server: collections -> canonical records.

A step reads one entity type (enrollments possibly for one school only). In a full run every
collection is a snapshot; in an incremental run the step asks only for objects modified since
the cursor (`filter=dateLastModified>'...'`), its outcome is DELTA and `tobedeleted` objects
become tombstones. Lookups a step needs (course titles for classes, which orgs are schools for
users) are always read whole, whatever the mode.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from libs.connectors.base import Extraction, ExtractStep, FeedMode
from libs.connectors.http import HttpSession
from libs.connectors.oneroster_api import mapping
from libs.connectors.oneroster_api.paging import CollectionResult, read_collection
from libs.connectors.records import Item, Record
from libs.enums import EntityType

if TYPE_CHECKING:
    from libs.connectors.oneroster_api.connector import OneRosterApiConnector

# entity type -> (path, envelope key); the key names the resource type, not the endpoint
COLLECTIONS: dict[EntityType, tuple[str, str]] = {
    EntityType.SCHOOL: ("/orgs", "orgs"),
    EntityType.TERM: ("/academicSessions", "academicSessions"),
    EntityType.CLASS: ("/classes", "classes"),
    EntityType.USER: ("/users", "users"),
    EntityType.ENROLLMENT: ("/enrollments", "enrollments"),
}


class OneRosterExtraction(Extraction):
    def __init__(self, connector: OneRosterApiConnector, step: ExtractStep, delta_since: str | None) -> None:
        super().__init__(step)
        self._connector = connector
        self._delta_since = delta_since
        self._session: HttpSession = connector.new_session()
        self._results: list[CollectionResult] = []
        self._skipped: dict[str, int] = {}
        mode = FeedMode.DELTA if delta_since else FeedMode.FULL
        for outcome in self.outcomes.values():
            outcome.mode = mode
        self.source = {"startedAt": _utc_now(), "mode": mode.value}

    def __iter__(self) -> Iterator[Item]:
        try:
            for entity_type in self.step.entity_types:
                yield from self._entity(entity_type)
        finally:
            self._finish()

    def _entity(self, entity_type: EntityType) -> Iterator[Item]:
        path, key = COLLECTIONS[entity_type]
        build: Callable[[Mapping[str, Any]], Record | None]
        if entity_type is EntityType.SCHOOL:
            build = self._school
        elif entity_type is EntityType.TERM:
            build = mapping.term
        elif entity_type is EntityType.CLASS:
            build = partial(mapping.class_, courses=self._courses())
        elif entity_type is EntityType.USER:
            id_type = self._connector.settings.student_number_user_id_type
            build = partial(mapping.user, schools=self._school_ids(), student_number_type=id_type)
        else:
            build = mapping.enrollment
            school = self.step.params.get("school")
            if school:
                path = f"/schools/{quote(school, safe='')}/enrollments"
        params = {"filter": f"dateLastModified>'{self._delta_since}'"} if self._delta_since else None
        result = CollectionResult(path)
        self._results.append(result)
        delta = self._delta_since is not None
        for obj in self._read(path, key, result, params):
            page = f"GET {path} page {result.pages}"
            item = mapping.convert(entity_type, obj, build, delta=delta, source_ref=page)
            if item is None:
                self._skip(entity_type, obj)
                continue
            yield item
        if result.incomplete:
            self.mark_incomplete(entity_type, "; ".join(result.incomplete) + "; nothing was deactivated")
        elif result.warnings:
            self.outcomes[entity_type].message = "the server warned: " + "; ".join(result.warnings)

    def _school(self, obj: Mapping[str, Any]) -> Record | None:
        # district, department and other orgs are parents, not schools
        return mapping.school(obj) if obj.get("type") == "school" else None

    def _skip(self, entity_type: EntityType, obj: Any) -> None:
        if mapping.is_deleted(obj):
            reason = "tobedeleted in a snapshot"
        elif entity_type is EntityType.SCHOOL:
            reason = f"org type {obj.get('type')}"
        else:
            reason = f"user role {obj.get('role')}"
        self._skipped[reason] = self._skipped.get(reason, 0) + 1

    def _read(
        self, path: str, key: str, result: CollectionResult, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        settings = self._connector.settings
        return read_collection(
            self._session,
            settings.base_url,
            path,
            key,
            page_size=settings.page_size,
            source=settings.source_name,
            params=params,
            result=result,
        )

    def _lookup(self, path: str, key: str) -> Iterator[dict[str, Any]]:
        result = CollectionResult(path)
        self._results.append(result)
        yield from self._read(path, key, result)
        # a lookup that came back short only costs titles or school links, not deactivations
        result.warnings.extend(result.incomplete)
        result.incomplete = []

    def _courses(self) -> dict[str, tuple[str | None, str | None]]:
        return {
            str(c["sourcedId"]): mapping.course_entry(c)
            for c in self._lookup("/courses", "courses")
            if c.get("sourcedId") and not mapping.is_deleted(c)
        }

    def _school_ids(self) -> frozenset[str]:
        return frozenset(str(o["sourcedId"]) for o in self._lookup("/orgs", "orgs") if o.get("type") == "school")

    def _finish(self) -> None:
        warnings = [w for r in self._results for w in r.warnings]
        self.source.update(
            {
                "requests": self._session.stats.as_dict(),
                "pages": sum(r.pages for r in self._results),
                "records": sum(r.received for r in self._results),
                "collections": {
                    r.path: {"pages": r.pages, "received": r.received, "total": r.total, "duplicates": r.duplicates}
                    for r in self._results
                },
                "serverDate": next((r.server_date for r in self._results if r.server_date), None),
            }
        )
        if warnings:
            self.source["warnings"] = warnings
        if self._skipped:
            self.source["skipped"] = dict(self._skipped)


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


__all__ = ["COLLECTIONS", "OneRosterExtraction"]
