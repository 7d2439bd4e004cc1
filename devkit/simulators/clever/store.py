"""A generated district held the way Clever serves it: sorted ids, objects, pre-encoded items.

Built once per district state (a few seconds for an M district); every list item is encoded to
JSON at build time, so a page is a join of bytes. Besides the generator's roster it seeds the
shapes Clever documents as edge cases, without changing the roster's counts: some teachers also
hold a staff role (one user, two roles), some co-taught sections have no primary teacher, a
guardian contact for every twentieth student, and a district admin.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from devkit.generator import ids as gen_ids
from devkit.generator.catalog import timestamp
from devkit.generator.district import District
from devkit.simulators.clever import objects
from libs.connectors.records import User

# one user in this many teachers also holds a staff role; one co-taught section in this many
# has no primary teacher; one guardian contact per this many students
TEACHER_ALSO_STAFF_EVERY = 25
NO_PRIMARY_EVERY = 10
CONTACT_EVERY = 20
# kind bytes of the simulator's own users, after the generator's kinds
_CONTACT_KIND, _ADMIN_KIND = 0x07, 0x08

COLLECTIONS = ("districts", "schools", "terms", "courses", "sections", "users", "resources")


@dataclass
class Collection:
    name: str
    ids: list[str] = field(default_factory=list)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    blobs: dict[str, bytes] = field(default_factory=dict)

    def add(self, obj: dict[str, Any]) -> None:
        object_id = obj["id"]
        self.objects[object_id] = obj
        # orjson: an M district is ~150k objects, and the stdlib encoder alone took seconds
        self.blobs[object_id] = b'{"data":%s,"uri":"/v3.0/%s/%s"}' % (
            orjson.dumps(obj),
            self.name.encode(),
            object_id.encode(),
        )

    def seal(self) -> None:
        self.ids = sorted(self.objects)


def _index(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """key -> its values, ascending and once each; `pairs` come in ascending value order."""
    index: dict[str, list[str]] = {}
    for key, value in pairs:
        values = index.get(key)
        if values is None:
            index[key] = [value]
        elif values[-1] != value:
            values.append(value)
    return index


@contextmanager
def _no_gc() -> Iterator[None]:
    # building allocates a few million containers and none of them are garbage: the cyclic
    # collector would rescan them over and over (40% of an M district's build time)
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class Store:
    def __init__(self, district: District, *, built_at: datetime) -> None:
        with _no_gc():
            self._build(district, built_at)

    def _build(self, district: District, built_at: datetime) -> None:
        self.generated = district
        created = timestamp(district.base_time)
        self.district_id = gen_ids.clever_id("district", gen_ids.DISTRICT_ID)
        self.epoch = self.district_id[:8]
        self.collections = {name: Collection(name) for name in COLLECTIONS}
        c = self.collections
        c["districts"].add(
            objects.district(self.district_id, district.spec.district_name, district.base_time.date(), built_at)
        )
        school_ids: dict[str, str] = {}
        for record in district.schools():
            school_ids[record.external_id] = gen_ids.clever_id("school", record.external_id)
            c["schools"].add(objects.school(record, school_ids[record.external_id], self.district_id, created))
        for term in district.terms():
            c["terms"].add(objects.term(term, gen_ids.clever_id("term", term.external_id), self.district_id))
        for course in district.courses():
            c["courses"].add(objects.course(course, gen_ids.clever_id("course", course.external_id), self.district_id))
        user_ids = self._add_users(district, school_ids, created)
        self._add_sections(district, school_ids, user_ids, created)
        for collection in c.values():
            collection.seal()
        self._relate()

    # -- building ---------------------------------------------------------------------------

    def _add_sections(
        self, district: District, school_ids: dict[str, str], user_ids: dict[str, str], created: str
    ) -> None:
        members: dict[str | None, tuple[list[str], list[str], list[str]]] = {}
        for enrollment in district.enrollments():
            group = members.get(enrollment.class_external_id)
            if group is None:
                group = members[enrollment.class_external_id] = ([], [], [])
            students, teachers, primary = group
            user_id = user_ids[enrollment.user_external_id or ""]
            if enrollment.role == "student":
                students.append(user_id)
            else:
                teachers.append(user_id)
                if enrollment.primary:
                    primary.append(user_id)
        for record in district.classes():
            students, teachers, primary = members.get(record.external_id, ([], [], []))
            section_id = gen_ids.clever_id("section", record.external_id)
            refs = {"section": section_id, "school": school_ids[record.school_external_id or ""]}
            if record.course_external_id:
                refs["course"] = gen_ids.clever_id("course", record.course_external_id)
            if record.term_external_ids:
                refs["term"] = gen_ids.clever_id("term", record.term_external_ids[0])
            first = primary[0] if primary else None
            if len(teachers) > 1 and int(section_id, 16) % NO_PRIMARY_EVERY == 0:
                first = None  # Clever: "teacher" may be null while "teachers" lists co-teachers
            obj = objects.section(record, refs, self.district_id, students, teachers, first, created)
            self.collections["sections"].add(obj)

    def _add_users(self, district: District, school_ids: dict[str, str], created: str) -> dict[str, str]:
        """Adds the users; returns generator id -> Clever id for the enrollments."""
        users = self.collections["users"]
        user_ids: dict[str, str] = {}
        for record in district.users():
            clever_id = user_ids[record.external_id] = gen_ids.clever_id("user", record.external_id)
            schools = [school_ids[s] for s in _primary_first(record)]
            role, index = gen_ids.parse_user_id(record.external_id)
            also_staff = role == "teacher" and index % TEACHER_ALSO_STAFF_EVERY == 0
            users.add(objects.user(record, clever_id, self.district_id, schools, created, also_staff=also_staff))
            if role == "student" and index % CONTACT_EVERY == 0:
                contact_id = f"{self.epoch}{_CONTACT_KIND:02x}{index:014x}"
                name = f"{record.given_name or ''} {record.family_name or ''} Guardian".strip()
                users.add(objects.contact(contact_id, self.district_id, name, clever_id, created))
        admin_id = f"{self.epoch}{_ADMIN_KIND:02x}{1:014x}"
        users.add(objects.district_admin(admin_id, self.district_id, f"it@{district.spec.domain}", created))
        return user_ids

    def _relate(self) -> None:
        # iterate in id order so that every index list comes out sorted
        section_objects = self.collections["sections"].objects
        sections = [(sid, section_objects[sid]) for sid in self.collections["sections"].ids]
        user_objects = self.collections["users"].objects
        users = [(uid, user_objects[uid]) for uid in self.collections["users"].ids]
        self.by_role = _index((role, uid) for uid, obj in users for role in obj["roles"])
        self.school_sections = _index((s["school"], sid) for sid, s in sections)
        self.term_sections = _index((s["term_id"], sid) for sid, s in sections if s.get("term_id"))
        self.course_sections = _index((s["course"], sid) for sid, s in sections if s.get("course"))
        self.user_sections = _index((uid, sid) for sid, s in sections for uid in (*s["students"], *s["teachers"]))
        self.school_users = _index(
            (school, uid)
            for uid, obj in users
            for role in obj["roles"].values()
            for school in role.get("schools") or ()
        )

    # -- reading ----------------------------------------------------------------------------

    def get(self, collection: str, object_id: str) -> dict[str, Any] | None:
        return self.collections[collection].objects.get(object_id)

    def roster_counts(self) -> dict[str, int]:
        """What the connector should extract: the generator's own counts."""
        return {entity.value: count for entity, count in self.generated.counts().items()}


def _primary_first(record: User) -> list[str]:
    schools = list(record.school_external_ids)
    primary = record.primary_school_external_id
    if primary and primary in schools:
        schools.remove(primary)
        schools.insert(0, primary)
    return schools
