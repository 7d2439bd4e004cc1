"""An independent diff of two generated states: full snapshots compared by id and content."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devkit.generator import District
from libs.connectors.records import User
from libs.enums import LOAD_ORDER, EntityType

Snapshot = dict[EntityType, dict[str, Any]]


def snapshot(district: District) -> Snapshot:
    return {entity: {r.external_id: r for r in district.records(entity)} for entity in LOAD_ORDER}


@dataclass
class Diff:
    added: set[str] = field(default_factory=set)
    dropped: set[str] = field(default_factory=set)
    updated: set[str] = field(default_factory=set)
    kinds: dict[str, int] = field(default_factory=dict)


def diff(before: District | Snapshot, after: District | Snapshot) -> dict[EntityType, Diff]:
    old = snapshot(before) if isinstance(before, District) else before
    new = snapshot(after) if isinstance(after, District) else after
    out = {}
    for entity in LOAD_ORDER:
        result = Diff(added=new[entity].keys() - old[entity].keys(), dropped=old[entity].keys() - new[entity].keys())
        for key in new[entity].keys() & old[entity].keys():
            if new[entity][key].content() != old[entity][key].content():
                result.updated.add(key)
                if entity is EntityType.USER:
                    for kind in user_kinds(old[entity][key], new[entity][key]):
                        result.kinds[kind] = result.kinds.get(kind, 0) + 1
        out[entity] = result
    return out


def user_kinds(old: User, new: User) -> list[str]:
    kinds = []
    if (old.given_name, old.middle_name, old.family_name) != (new.given_name, new.middle_name, new.family_name):
        kinds.append("renamed")
    if old.email != new.email:
        kinds.append("email_changed")
    if old.school_external_ids != new.school_external_ids:
        kinds.append("transferred")
    if old.grades != new.grades:
        kinds.append("promoted")
    return kinds
