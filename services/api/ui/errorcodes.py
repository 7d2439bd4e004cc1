"""What a per-record error code means to a district admin, and what to do about it."""

from __future__ import annotations

from dataclasses import dataclass

from services.api.ui.forms import humanize


@dataclass(frozen=True)
class Explained:
    title: str
    fix: str


CODES = {
    "missing_value": Explained(
        "A required value is empty",
        "Fill in the named field for these records in the SIS; the next sync picks them up.",
    ),
    "invalid_value": Explained(
        "A value is not one the roster accepts",
        "Correct the named field in the SIS (the message lists the accepted values).",
    ),
    "orphan_reference": Explained(
        "Refers to a record the feed does not have",
        "Make sure the referenced school, class or user is exported too (and not deleted or rejected), "
        "or remove the reference in the SIS.",
    ),
    "missing_id": Explained(
        "A record has no id",
        "Every record needs its SIS id: check the export settings of the SIS.",
    ),
    "duplicate_id": Explained(
        "Two records share one id",
        "Each id must be unique within its file or list: remove or renumber the duplicate in the SIS.",
    ),
    "ambiguous_match": Explained(
        "Matches more than one person already in the roster",
        "Several roster users share this email or student number: fix the duplicates in the roster or "
        "the SIS, so that exactly one matches.",
    ),
    "unmatched": Explained(
        "No roster record to link to",
        "Create users is off for this provider: add the person to the roster, or turn Create users on.",
    ),
    "invalid_date": Explained(
        "A date cannot be read",
        "Dates must be real calendar dates (YYYY-MM-DD): correct it in the SIS.",
    ),
    "not_an_object": Explained(
        "The source sent something that is not a record",
        "The SIS answered with malformed data; if it repeats, report it to the SIS vendor.",
    ),
    "csv_syntax": Explained(
        "A CSV line cannot be read",
        "Check the named line of the file: quotes, separators and the number of columns.",
    ),
}

ENTITY_WORDS = {
    "school": "Schools",
    "term": "Terms",
    "class": "Classes",
    "user": "Users",
    "enrollment": "Enrollments",
}
FIELD_WORDS = {
    "user_external_id": "user id",
    "class_external_id": "class id",
    "school_external_id": "school id",
    "parent_external_id": "parent org id",
    "primary_school_external_id": "primary school id",
}


def explain(code: str) -> Explained:
    """A code this table does not know reads as its own words, with the message as the guide."""
    return CODES.get(
        code, Explained(humanize(code.replace("_", " ")), "Read each record's message below; the CSV has them all.")
    )


def entity_words(entity: str | None) -> str:
    return ENTITY_WORDS.get(entity or "", humanize(entity) if entity else "Whole package")


def field_words(field: str | None) -> str:
    if not field:
        return "—"
    return FIELD_WORDS.get(field, field.replace("_", " "))
