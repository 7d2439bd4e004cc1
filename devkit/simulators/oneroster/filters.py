"""The `filter` parameter as the simulator understands it: predicates on dateLastModified and
status joined with AND (OR is refused, as many servers refuse it)."""

from __future__ import annotations

import operator
import re
from datetime import UTC, datetime

from devkit.simulators.oneroster.store import utc_stamp

_PREDICATE = re.compile(r"^\s*(\w+)\s*(>=|<=|!=|>|<|=)\s*'([^']*)'\s*$")
_FILTER_FIELDS = frozenset({"dateLastModified", "status"})


class FilterError(ValueError):
    pass


def parse_filter(text: str) -> tuple[tuple[str, str, str], ...]:
    if re.search(r"\sOR\s", text):
        raise FilterError("OR is not supported by this server")
    predicates = []
    for part in re.split(r"\s+AND\s+", text.strip()):
        match = _PREDICATE.match(part)
        if match is None:
            raise FilterError(f"cannot parse filter predicate {part!r}")
        name, op, value = match.groups()
        if name not in _FILTER_FIELDS:
            raise FilterError(f"filtering on {name} is not supported")
        if name == "dateLastModified":
            try:
                when = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                raise FilterError(f"{value!r} is not a datetime") from None
            value = utc_stamp(when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC))
        predicates.append((name, op, value))
    return tuple(predicates)


_OPERATORS = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "=": operator.eq,
    "!=": operator.ne,
}


def compare(left: str, op: str, right: str) -> bool:
    return bool(_OPERATORS[op](left, right))


__all__ = ["FilterError", "compare", "parse_filter"]
