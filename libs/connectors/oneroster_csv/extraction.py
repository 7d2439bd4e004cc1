"""One pass over a package: pre-flight checks, then records in load order.

Pre-flight (before the first record): the manifest parses, every file it declares bulk or delta
is present, and every file's header has the columns its records need. Anything wrong there
fails the run before a single row is staged, so nothing can be deactivated by a broken package.

Then schools, terms, classes, users and enrollments, each file read once, streaming. Courses
(small) are held as a dict for the classes' course code and title; 1.2 roles as a dict for the
users' role and schools; nothing the size of enrollments is ever held.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from libs.connectors.base import Extraction, ExtractStep, FeedMode
from libs.connectors.errors import PackageError
from libs.connectors.oneroster_csv import mapping, users
from libs.connectors.oneroster_csv.columns import OPTIONAL, REQUIRED, Header, check_header
from libs.connectors.oneroster_csv.manifest import MANIFEST, FileMode, read_manifest
from libs.connectors.oneroster_csv.package import Package
from libs.connectors.oneroster_csv.stream import Builder, CsvStream, read_header
from libs.connectors.oneroster_csv.values import PackageState
from libs.connectors.records import Item, RecordError
from libs.enums import EntityType

BuilderFactory = Callable[[CsvStream, PackageState, set[str]], Builder]

# entity -> the file it comes from, in load order
ENTITY_FILES: tuple[tuple[EntityType, str], ...] = (
    (EntityType.SCHOOL, "orgs.csv"),
    (EntityType.TERM, "academicSessions.csv"),
    (EntityType.CLASS, "classes.csv"),
    (EntityType.USER, "users.csv"),
    (EntityType.ENROLLMENT, "enrollments.csv"),
)
# files read for what they lend to others
SUPPORT_FILES = ("courses.csv", "roles.csv")
READ_FILES = tuple(name for _, name in ENTITY_FILES) + SUPPORT_FILES

_BUILDERS: dict[str, BuilderFactory] = {
    "orgs.csv": mapping.org_builder,
    "academicSessions.csv": mapping.term_builder,
    "courses.csv": mapping.course_builder,
    "classes.csv": mapping.class_builder,
    "users.csv": users.user_builder,
    "enrollments.csv": mapping.enrollment_builder,
}

# what each entity type's records are read from; the files a step reads follow from its entities
_READS: dict[EntityType, tuple[str, ...]] = {
    EntityType.SCHOOL: ("orgs.csv",),
    EntityType.TERM: ("academicSessions.csv",),
    EntityType.CLASS: ("classes.csv", "courses.csv"),
    EntityType.USER: ("users.csv", "roles.csv", "orgs.csv"),
    EntityType.ENROLLMENT: ("enrollments.csv",),
}

_FEED_MODES = {FileMode.BULK: FeedMode.FULL, FileMode.DELTA: FeedMode.DELTA, FileMode.ABSENT: FeedMode.ABSENT}


def _mapped(standard: str) -> set[str]:
    mapped = set(REQUIRED[standard]) | set(OPTIONAL[standard])
    if standard == "users.csv":
        mapped |= {"role", "orgSourcedIds"}
    return mapped


@dataclass
class PackageFile:
    standard: str
    real: str
    mode: FileMode
    header: Header


class PackageExtraction(Extraction):
    def __init__(
        self,
        step: ExtractStep,
        package: Package,
        *,
        student_number_id_type: str | None = None,
        on_close: Callable[[], None] | None = None,
        source: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(step)
        self.package = package
        self.files: dict[str, PackageFile] = {}
        self.state = PackageState(student_number_id_type=student_number_id_type)
        self.warnings: list[str] = []
        self._on_close = on_close
        self._closed = False
        self.source.update(source or {})

    # -- pre-flight -------------------------------------------------------------------------

    def preflight(self) -> None:
        package = self.package
        manifest = read_manifest(package)
        self.warnings.extend(manifest.warnings)
        for standard in READ_FILES:
            mode = manifest.mode(standard)
            real = package.find(standard)
            if mode is FileMode.ABSENT:
                if real is not None and package.size(real) > 0:
                    self.warnings.append(
                        f"{real} is in the package but manifest.csv declares it absent; it is not read"
                    )
                continue
            if real is None:
                raise PackageError(
                    f"manifest.csv declares {standard} as {mode.value}, but {package.name} has no {standard}",
                    details={"file": standard},
                )
            self.files[standard] = PackageFile(standard, real, mode, read_header(package, real))

        users_file = self.files.get("users.csv")
        roles_from_file = users_file is not None and "role" not in users_file.header.index and "roles.csv" in self.files
        for standard, file in self.files.items():
            required = REQUIRED[standard]
            if file.mode is FileMode.DELTA:
                required += ("status",)
            if standard == "users.csv" and not roles_from_file:
                # OneRoster 1.1: the role is a column; 1.2 moved it to roles.csv
                required += ("role", "orgSourcedIds")
            self.warnings.extend(
                check_header(file.header, standard=standard, required=required, optional=OPTIONAL[standard])
            )
        if not roles_from_file:
            self.files.pop("roles.csv", None)
        if "classes.csv" in self.files and "courses.csv" not in self.files:
            self.warnings.append("courses.csv is absent: classes get no course code or title")

        read_names = {n.lower() for n in READ_FILES}
        for name, mode in manifest.files.items():
            if mode is not FileMode.ABSENT and name not in read_names and package.find(name, note_case=False) is None:
                self.warnings.append(f"manifest.csv declares {name} as {mode.value} but the package lacks it")
        declared = set(manifest.files) | {MANIFEST}
        for real in sorted(package.files()):
            if real.lower().endswith(".csv") and real.lower() not in declared:
                self.warnings.append(f"{real} is not declared in manifest.csv; it is not read")

        for entity, standard in ENTITY_FILES:
            if entity in self.outcomes:
                source_file = self.files.get(standard)
                self.outcomes[entity].mode = _FEED_MODES[source_file.mode] if source_file else FeedMode.ABSENT
        self.warnings[:0] = package.warnings
        # every step checks the whole package, but only the step of schools and users reports its
        # warnings, so a run split into steps lists each warning once
        if EntityType.SCHOOL not in self.outcomes and EntityType.USER not in self.outcomes:
            self.warnings = []
        reads = {name for entity in self.outcomes for name in _READS[entity]}
        self.source.update(
            {
                "oneroster_version": manifest.version,
                "manifest": {k: v for k, v in manifest.properties.items() if k.lower().startswith("file.")},
                "files": {f.real: {"mode": f.mode.value} for f in self.files.values() if f.standard in reads},
                "warnings": self.warnings,
            }
        )

    # -- records --------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Item]:
        try:
            yield from self._items()
        finally:
            self.close()

    def _items(self) -> Iterator[Item]:
        wanted = set(self.outcomes)
        orgs = self.files.get("orgs.csv")
        if orgs is not None and (EntityType.SCHOOL in wanted or EntityType.USER in wanted):
            # users need to know which of their orgs are not schools, even when schools are not wanted
            yield from self._read(orgs, EntityType.SCHOOL, emit=EntityType.SCHOOL in wanted)
            if EntityType.SCHOOL in wanted and orgs.mode is FileMode.BULK:
                yield from self._dangling_parents(orgs)
        terms = self.files.get("academicSessions.csv")
        if terms is not None and EntityType.TERM in wanted:
            yield from self._read(terms, EntityType.TERM)
        classes = self.files.get("classes.csv")
        if classes is not None and EntityType.CLASS in wanted:
            courses = self.files.get("courses.csv")
            if courses is not None:
                yield from self._read_support(courses, _BUILDERS["courses.csv"])
            yield from self._read(classes, EntityType.CLASS)
        users_file = self.files.get("users.csv")
        if users_file is not None and EntityType.USER in wanted:
            roles = self.files.get("roles.csv")
            if roles is not None:
                collector: users.RoleCollector | None = None

                def roles_builder(stream: CsvStream, state: PackageState, mapped: set[str]) -> Builder:
                    nonlocal collector
                    collector = users.RoleCollector(stream, state)
                    return collector.build

                yield from self._read_support(roles, roles_builder)
                assert collector is not None
                collector.finish()
            yield from self._read(users_file, EntityType.USER)
        enrollments = self.files.get("enrollments.csv")
        if enrollments is not None and EntityType.ENROLLMENT in wanted:
            yield from self._read(enrollments, EntityType.ENROLLMENT)
        if self.state.skipped:
            self.source["skipped"] = dict(self.state.skipped)

    def _dangling_parents(self, orgs: PackageFile) -> Iterator[Item]:
        """A bulk orgs.csv is the whole tree: a parent it does not list is a defect of the row that
        names it. The org itself is still used (a parent is not part of the roster), so this is an
        error report without a staged row: nothing is rejected or deactivated for it."""
        known = self.state.org_ids
        for sid, parent, line in self.state.org_parents:
            if parent not in known:
                yield RecordError(
                    entity_type=None,
                    code="orphan_reference",
                    message=f"parentSourcedId '{parent}' of org '{sid}' refers to no org in {orgs.real}",
                    external_id=sid,
                    source=orgs.real,
                    line=line,
                    field="parentSourcedId",
                )

    def _read(self, file: PackageFile, entity: EntityType, *, emit: bool = True) -> Iterator[Item]:
        stream = CsvStream(self.package, file.real, file.header, entity)
        build = _BUILDERS[file.standard](stream, self.state, _mapped(file.standard))
        produced = 0
        for item in stream.items(build):
            produced += 1
            if emit:
                yield item
        self.source["files"][file.real].update(
            {"rows": stream.rows, "records": produced - stream.errors, "errors": stream.errors}
        )
        if stream.truncated is not None and emit:
            self.mark_incomplete(entity, stream.truncated)

    def _read_support(self, file: PackageFile, factory: BuilderFactory) -> Iterator[Item]:
        """Read a file that yields no records of its own; its bad rows are still reported."""
        stream = CsvStream(self.package, file.real, file.header, None)
        yield from stream.items(factory(stream, self.state, _mapped(file.standard)))
        self.source["files"][file.real].update({"rows": stream.rows})
        if stream.truncated is not None:
            # a cut-off courses or roles file would silently blank fields of records that look complete
            raise PackageError(stream.truncated, details={"file": file.real})

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.package.close()
        if self._on_close is not None:
            self._on_close()


__all__ = ["ENTITY_FILES", "PackageExtraction"]
