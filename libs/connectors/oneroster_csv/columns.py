"""The columns of each OneRoster file, and the header check that runs before any record is read.

A misspelled header is how a broken export turns into "everyone left the district", so a
required column that is missing fails the package, naming the file and the column, with the
nearest header actually found. A column we map but the spec calls optional may be absent (its
values are then empty), unless a header that looks like a misspelling of it is present: that
data would otherwise be silently dropped.
"""

from __future__ import annotations

import difflib
import unicodedata
from dataclasses import dataclass, field

from libs.connectors.errors import PackageError


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


# every column OneRoster 1.1 and 1.2 define per file: anything else is an extension column
SPEC_COLUMNS: dict[str, frozenset[str]] = {
    "orgs.csv": _names("sourcedId status dateLastModified name type identifier parentSourcedId"),
    "academicSessions.csv": _names(
        "sourcedId status dateLastModified title type startDate endDate parentSourcedId schoolYear"
    ),
    "courses.csv": _names(
        "sourcedId status dateLastModified schoolYearSourcedId title courseCode grades orgSourcedId subjects "
        "subjectCodes"
    ),
    "classes.csv": _names(
        "sourcedId status dateLastModified title grades courseSourcedId classCode classType location "
        "schoolSourcedId termSourcedIds subjects subjectCodes periods"
    ),
    "users.csv": _names(
        "sourcedId status dateLastModified enabledUser orgSourcedIds role username userIds givenName familyName "
        "middleName identifier email sms phone agentSourcedIds grades password userMasterIdentifier "
        "preferredGivenName preferredMiddleName preferredFamilyName primaryOrgSourcedId pronouns"
    ),
    "enrollments.csv": _names(
        "sourcedId status dateLastModified classSourcedId schoolSourcedId userSourcedId role primary beginDate endDate"
    ),
    "roles.csv": _names(
        "sourcedId status dateLastModified userSourcedId roleType role beginDate endDate orgSourcedId "
        "userProfileSourcedId"
    ),
}

# columns without which a row cannot become a correct record
REQUIRED: dict[str, tuple[str, ...]] = {
    "orgs.csv": ("sourcedId", "name", "type"),
    "academicSessions.csv": ("sourcedId", "title", "type", "startDate", "endDate"),
    "courses.csv": ("sourcedId", "title"),
    "classes.csv": ("sourcedId", "title", "courseSourcedId", "schoolSourcedId", "termSourcedIds"),
    "users.csv": ("sourcedId", "givenName", "familyName"),
    "enrollments.csv": ("sourcedId", "classSourcedId", "schoolSourcedId", "userSourcedId", "role"),
    "roles.csv": ("sourcedId", "userSourcedId", "roleType", "role", "orgSourcedId"),
}

# columns we map whose absence only leaves a field empty
OPTIONAL: dict[str, tuple[str, ...]] = {
    "orgs.csv": ("status", "identifier"),
    "academicSessions.csv": ("status", "parentSourcedId", "schoolYear"),
    "courses.csv": ("status", "courseCode"),
    "classes.csv": ("status", "classCode", "grades", "subjects", "periods", "location"),
    "users.csv": (
        "status",
        "enabledUser",
        "username",
        "middleName",
        "identifier",
        "email",
        "grades",
        "primaryOrgSourcedId",
    ),
    "enrollments.csv": ("status", "primary", "beginDate", "endDate"),
    "roles.csv": ("status",),
}

# optional columns whose absence is normal (bulk files may omit status; 1.1 has no primaryOrgSourcedId)
_UNREMARKABLE = frozenset({"status", "primaryOrgSourcedId"})

# never copied into a record's raw: credentials have no business in a roster store
SECRET_COLUMNS = frozenset({"password"})


@dataclass
class Header:
    """A file's header row: where each column is, and which columns are extensions."""

    file: str
    names: list[str]
    index: dict[str, int] = field(default_factory=dict)
    # rows may be this short (trailing unnamed header cells are padding, not columns)
    width: int = 0

    def __post_init__(self) -> None:
        for position, name in enumerate(self.names):
            if name and name not in self.index:
                self.index[name] = position
        width = len(self.names)
        while width and not self.names[width - 1]:
            width -= 1
        self.width = width

    def col(self, name: str) -> int:
        """The column's position, or -1 when the file does not have it."""
        return self.index.get(name, -1)

    def extras(self, mapped: set[str]) -> list[tuple[int, str]]:
        """(position, name) of columns that go to a record's raw: unmapped, named, not secret."""
        return [
            (position, name)
            for name, position in self.index.items()
            if name not in mapped and name not in SECRET_COLUMNS
        ]


def normalize_header(cells: list[str]) -> list[str]:
    names = [cell.strip() for cell in cells]
    if names:
        # a byte-order mark on the first name (doubled BOM, or inside the quotes) is an encoding artifact
        names[0] = names[0].lstrip("\ufeff").strip()
    return names


def _visible(name: str) -> str:
    return "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z")).lower()


def _hint(wanted: str, candidates: list[str]) -> str | None:
    """How a present header relates to the missing column, if it plausibly is that column."""
    for found in candidates:
        if found == wanted:
            continue
        if found.lower() == wanted.lower():
            return f"found '{found}'; header names are case-sensitive"
        if _visible(found) == wanted.lower():
            escaped = found.encode("unicode_escape").decode("ascii")
            return f"found '{escaped}', which contains invisible characters"
    close = difflib.get_close_matches(wanted.lower(), [c.lower() for c in candidates], n=1, cutoff=0.75)
    if close:
        found = next(c for c in candidates if c.lower() == close[0])
        return f"found '{found}'"
    return None


def check_header(header: Header, *, standard: str, required: tuple[str, ...], optional: tuple[str, ...]) -> list[str]:
    """Raise PackageError for a missing required or misspelled mapped column; return warnings.

    `standard` is the file's name in the spec (the package may spell it in another case).
    """
    spec = SPEC_COLUMNS.get(standard, frozenset())
    unknown = [name for name in header.index if name not in spec]
    problems: list[str] = []
    warnings: list[str] = []
    for column in required:
        if column in header.index:
            continue
        hint = _hint(column, unknown)
        problems.append(f"required column '{column}' is missing" + (f" ({hint})" if hint else ""))
    for column in optional:
        if column in header.index:
            continue
        hint = _hint(column, unknown)
        if hint:
            problems.append(f"column '{column}' is missing ({hint})")
        elif column not in _UNREMARKABLE:
            warnings.append(f"{header.file} has no '{column}' column; that field is left empty")
    if problems:
        raise PackageError(
            f"{header.file}: " + "; ".join(problems),
            details={"file": header.file, "header": header.names},
        )
    return warnings


__all__ = ["OPTIONAL", "REQUIRED", "SECRET_COLUMNS", "SPEC_COLUMNS", "Header", "check_header", "normalize_header"]
