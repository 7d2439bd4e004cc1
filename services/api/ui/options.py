"""The sync options form: labelled fields, the form as the API's `options` body, the options in words.

Kinds, bounds and defaults come from `ProviderOptions`' JSON schema, so the form's inline checks
are the model's; the API validates again on save.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from libs.etl.options import ProviderOptions
from services.api.problems import field_error, invalid

# the options a district admin edits here, with their words (matchSchoolsBy is set through the API)
_WORDS: dict[str, tuple[str, str]] = {
    "createUsers": (
        "Create users that match no existing user",
        "When off, a person from the SIS who matches no user by link, email or student number is listed "
        "as a record error of the run instead of being created.",
    ),
    "deactivationThresholdPercent": (
        "Deactivation limit (% of active records of a type)",
        "The most one sync may deactivate of this provider's active schools, classes, users or enrollments.",
    ),
    "deactivationGuardMinimum": (
        "Apply the limit from (active records of a type)",
        "Below this many, the limit does not apply: small numbers change a lot in relative terms.",
    ),
    "incremental": (
        "Incremental syncs between full syncs",
        "Read only what changed since the last sync (Clever events, OneRoster dateLastModified).",
    ),
    "fullSyncEveryDays": (
        "Full sync at least every (days)",
        "With incremental syncs on, a full reconciliation still runs at least this often.",
    ),
    "requireApproval": (
        "Wait for approval",
        "A sync that waits writes nothing: it shows every planned change for you to approve or reject.",
    ),
}
# the words of each choice of a choice option
CHOICES: dict[str, dict[str, str]] = {
    "requireApproval": {
        "onGuard": "When a guard trips (the default)",
        "always": "Always (the first weeks of a new district, a rollover)",
        "never": "Never: apply what is safe, hold back what tripped, end Partial",
    }
}
GUARD_KEYS = ("deactivationThresholdPercent", "deactivationGuardMinimum")


@dataclass(frozen=True)
class OptionField:
    key: str  # the API's name, e.g. "deactivationThresholdPercent"
    label: str
    hint: str
    kind: str  # checkbox, integer, number, choice
    minimum: float | None
    maximum: float | None
    default: Any
    choices: tuple[tuple[str, str], ...] = ()

    @property
    def path(self) -> str:
        return f"options.{self.key}"

    @property
    def default_text(self) -> str:
        return _number_text(self.default)


@cache
def fields() -> tuple[OptionField, ...]:
    schema = ProviderOptions.model_json_schema(by_alias=True)["properties"]
    out = []
    for key, (label, hint) in _WORDS.items():
        node = schema[key]
        kind = {"boolean": "checkbox", "integer": "integer"}.get(node.get("type", ""), "number")
        choices: tuple[tuple[str, str], ...] = ()
        if "enum" in node:
            kind = "choice"
            choices = tuple((value, CHOICES.get(key, {}).get(value, value)) for value in node["enum"])
        out.append(
            OptionField(key, label, hint, kind, node.get("minimum"), node.get("maximum"), node.get("default"), choices)
        )
    return tuple(out)


def body_from_form(data: Mapping[str, str]) -> dict[str, Any]:
    """The submitted form as the API's `options` object; a number that does not parse goes on as
    text, so the API names the field and the problem."""
    body: dict[str, Any] = {}
    blank = []
    for item in fields():
        if item.kind == "checkbox":
            body[item.key] = data.get(item.key) == "true"
            continue
        if item.kind == "choice":
            body[item.key] = data.get(item.key) or item.default
            continue
        raw = data.get(item.key, "").strip()
        if raw == "":
            blank.append(field_error(["options", item.key], "enter a number"))
            continue
        try:
            body[item.key] = int(raw) if item.kind == "integer" else float(raw)
        except ValueError:
            body[item.key] = raw
    if blank:
        raise invalid(blank)
    return body


def values_of(options: ProviderOptions) -> dict[str, str]:
    stored = options.to_stored()
    values = {}
    for item in fields():
        value = stored.get(item.key)
        if item.kind == "checkbox":
            values[item.key] = "true" if value else "false"
        elif item.kind == "choice":
            values[item.key] = str(value)
        else:
            values[item.key] = _number_text(value)
    return values


def _number_text(value: Any) -> str:
    # 20.0 reads as "20", as it was most likely typed
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def context(
    provider_options: ProviderOptions, *, data: Mapping[str, str] | None = None, errors: dict[str, str] | None = None
) -> dict[str, Any]:
    """The sync options form's values (saved, or as submitted when refused) and its errors."""
    values = values_of(provider_options)
    if data is not None:
        values = {
            item.key: ("true" if data.get(item.key) == "true" else "false")
            if item.kind == "checkbox"
            else data.get(item.key, "")
            for item in fields()
        }
    return {"option_values": values, "option_errors": errors or {}}


def words(options: ProviderOptions) -> str:
    creates = "created" if options.create_users else "listed as errors, not created"
    guard = (
        f"A sync deactivates at most {options.deactivation_threshold_percent:g}% of a type's active records "
        f"(when it has {options.deactivation_guard_minimum:,} or more)"
    )
    if options.incremental:
        mode = f"incremental syncs, with a full sync at least every {options.full_sync_every_days} days"
    else:
        mode = "every sync is a full sync"
    approval = {
        "onGuard": "A sync that trips the guard waits for your approval.",
        "always": "Every sync waits for your approval.",
        "never": "A sync never waits for approval: what trips the guard is held back.",
    }[options.require_approval]
    return f"Users with no match are {creates}. {guard}; {mode}. {approval}"
