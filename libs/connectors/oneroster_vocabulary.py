"""OneRoster's words and their canonical meaning, shared by the CSV and REST bindings.

Keys are lower case: files and servers vary the case ("schoolYear", "Teacher"), so callers
look values up lower-cased.
"""

from __future__ import annotations

TOMBSTONE_STATUSES = frozenset({"tobedeleted", "inactive"})  # `inactive` is OneRoster 1.0's word

TERM_TYPES = {"schoolyear": "school_year", "semester": "semester", "term": "term", "gradingperiod": "grading_period"}

# OneRoster 1.1 users.role and 1.2 roles.role -> canonical user role
USER_ROLES = {
    "student": "student",
    "teacher": "teacher",
    "aide": "aide",
    "administrator": "administrator",
    "principal": "administrator",
    "siteadministrator": "administrator",
    "districtadministrator": "administrator",
    "systemadministrator": "administrator",
    "counselor": "staff",
    "proctor": "staff",
    "staff": "staff",
}
# people who are not roster users (canonical model: out of the roster by default)
NON_ROSTER_ROLES = frozenset({"guardian", "parent", "relative"})

ENROLLMENT_ROLES = {
    "student": "student",
    "teacher": "teacher",
    "aide": "aide",
    "administrator": "administrator",
    # a proctor supervises a class without teaching it: the nearest canonical role is aide
    "proctor": "aide",
}

BOOLEANS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False, "t": True, "f": False}

__all__ = ["BOOLEANS", "ENROLLMENT_ROLES", "NON_ROSTER_ROLES", "TERM_TYPES", "TOMBSTONE_STATUSES", "USER_ROLES"]
