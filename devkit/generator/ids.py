"""External ids of generated records, and the Clever-style ObjectIds derived from them.

Ids are plain, stable strings (`stu-0000123`); a record keeps its id through every change, so a
re-sync matches it by link. Indices are allocated in generation order: a record added later has
a larger index than every earlier one of its kind.
"""

from __future__ import annotations

import re

DISTRICT_ID = "dst-00001"

# role of a user -> id prefix; a user's index counts within its prefix
USER_PREFIX = {"student": "stu", "teacher": "tch", "administrator": "adm", "aide": "aid"}
PREFIX_ROLE = {prefix: role for role, prefix in USER_PREFIX.items()}
TERM_SUFFIXES = ("", "s1", "s2", "q1", "q2", "q3", "q4")


def school_id(school: int) -> str:
    return f"sch-{school + 1:05d}"


def user_id(role: str, index: int) -> str:
    return f"{USER_PREFIX[role]}-{index + 1:07d}"


def class_id(school_year: int, index: int) -> str:
    return f"cls-{school_year}-{index + 1:07d}"


def course_id(school: int, template: int) -> str:
    return f"crs-{school + 1:05d}-{template + 1:03d}"


def term_id(school_year: int, suffix: str) -> str:
    return f"trm-{school_year}-{suffix}" if suffix else f"trm-{school_year}"


def enrollment_id(class_external_id: str, user_external_id: str) -> str:
    # ClassLink's advice for SISs without enrollment ids: combine the class and the user
    return f"enr-{class_external_id[4:]}-{user_external_id}"


class IdError(ValueError):
    """Not an id this generator makes."""


_PATTERNS: dict[str, re.Pattern[str]] = {
    "district": re.compile(r"dst-(\d{5})"),
    "school": re.compile(r"sch-(\d{5})"),
    "user": re.compile(r"(stu|tch|adm|aid)-(\d{7})"),
    "class": re.compile(r"cls-(\d{4})-(\d{7})"),
    "course": re.compile(r"crs-(\d{5})-(\d{3})"),
    "term": re.compile(r"trm-(\d{4})(?:-(s1|s2|q1|q2|q3|q4))?"),
    "enrollment": re.compile(r"enr-(\d{4})-(\d{7})-((?:stu|tch|adm|aid)-\d{7})"),
}


def _match(kind: str, external_id: str, pattern: str | None = None) -> re.Match[str]:
    match = _PATTERNS[pattern or kind].fullmatch(external_id)
    if not match:
        raise IdError(f"not a generated {kind} id: {external_id!r}")
    return match


def parse_user_id(external_id: str) -> tuple[str, int]:
    """`stu-0000124` -> ("student", 123)."""
    match = _match("user", external_id)
    return PREFIX_ROLE[match[1]], int(match[2]) - 1


def parse_class_id(external_id: str) -> tuple[int, int]:
    """`cls-2025-0000124` -> (2025, 123)."""
    match = _match("class", external_id)
    return int(match[1]), int(match[2]) - 1


def parse_term_id(external_id: str) -> tuple[int, str]:
    match = _match("term", external_id)
    return int(match[1]), match[2] or ""


def parse_enrollment_id(external_id: str) -> tuple[str, str]:
    """`enr-2025-0000124-stu-0000001` -> ("cls-2025-0000124", "stu-0000001")."""
    match = _match("enrollment", external_id)
    return f"cls-{match[1]}-{match[2]}", match[3]


# Clever ObjectIds: 4-byte timestamp, then (here) a kind byte, a 2-byte year and a 5-byte index.
# Real ObjectIds start with their creation time, so ids sort by creation; these sort by kind,
# then school year, then index, which is generation order within a kind.
_CLEVER_EPOCH = 0x5F5E1000
_CLEVER_KINDS = {"district": 1, "school": 2, "term": 3, "course": 4, "section": 5, "class": 5, "user": 6}
_CLEVER_USER_ROLES = {"stu": 0, "tch": 1, "adm": 2, "aid": 3}
_CLEVER_NAMES = {number: kind for kind, number in _CLEVER_KINDS.items() if kind != "class"}


def clever_id(kind: str, external_id: str) -> str:
    """A 24-hex ObjectId-like id for a generated record; ascending in generation order.

    `kind` is one of district, school, term, course, section (or class), user.
    """
    try:
        code = _CLEVER_KINDS[kind]
    except KeyError:
        raise IdError(f"no Clever id for kind {kind!r}") from None
    match = _match(kind, external_id, "class" if kind == "section" else None)
    year, index = 0, 0
    if kind in ("district", "school"):
        index = int(match[1])
    elif kind == "term":
        year, index = int(match[1]), TERM_SUFFIXES.index(match[2] or "")
    elif kind == "course":
        index = int(match[1]) * 1000 + int(match[2])
    elif kind in ("class", "section"):
        year, index = int(match[1]), int(match[2])
    else:
        index = _CLEVER_USER_ROLES[match[1]] * 10**10 + int(match[2])
    return f"{_CLEVER_EPOCH:08x}{code:02x}{year:04x}{index:010x}"


def external_id_from_clever(clever: str) -> tuple[str, str]:
    """The inverse of clever_id: ObjectId -> (kind, external_id)."""
    if not re.fullmatch(r"[0-9a-f]{24}", clever):
        raise IdError(f"not an ObjectId: {clever!r}")
    code, year, index = int(clever[8:10], 16), int(clever[10:14], 16), int(clever[14:], 16)
    kind = _CLEVER_NAMES.get(code)
    if kind is None or int(clever[:8], 16) != _CLEVER_EPOCH:
        raise IdError(f"not a generated Clever id: {clever!r}")
    if kind == "district":
        return kind, f"dst-{index:05d}"
    if kind == "school":
        return kind, f"sch-{index:05d}"
    if kind == "term":
        return kind, term_id(year, TERM_SUFFIXES[index])
    if kind == "course":
        return kind, f"crs-{index // 1000:05d}-{index % 1000:03d}"
    if kind == "section":
        return kind, f"cls-{year}-{index:07d}"
    role_code, number = divmod(index, 10**10)
    prefix = next(p for p, c in _CLEVER_USER_ROLES.items() if c == role_code)
    return kind, f"{prefix}-{number:07d}"
