"""Secret config fields, driven by each config model's `secret_fields` (dotted paths).

Out: a secret's value is replaced by MASK (null when unset) and a `has<Field>` flag is set
beside it. In (PATCH, test with edits): a secret that is absent, null or the mask keeps the
stored value (refused by `configs.config_of` when a destination field changes), and `has<Field>`
flags sent back by a client are dropped before validation.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

MASK = "********"


def _split(path: str) -> tuple[list[str], str]:
    *parents, leaf = path.split(".")
    return parents, leaf


def flag_name(leaf: str) -> str:
    """`password` -> `hasPassword`: the flag set beside a masked secret."""
    return "has" + leaf[:1].upper() + leaf[1:]


def _parent(config: dict[str, Any], parents: list[str], *, create: bool) -> dict[str, Any] | None:
    node: Any = config
    for key in parents:
        child = node.get(key)
        if not isinstance(child, dict):
            if not create:
                return None
            child = node[key] = {}
        node = child
    return node if isinstance(node, dict) else None


def mask(config: dict[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    masked = copy.deepcopy(config)
    for path in secret_fields:
        parents, leaf = _split(path)
        node = _parent(masked, parents, create=False)
        if node is None:
            continue
        present = node.get(leaf) not in (None, "")
        node[leaf] = MASK if present else None
        node[flag_name(leaf)] = present
    return masked


def strip_flags(config: dict[str, Any], secret_fields: Iterable[str]) -> dict[str, Any]:
    clean = copy.deepcopy(config)
    for path in secret_fields:
        parents, leaf = _split(path)
        node = _parent(clean, parents, create=False)
        if node is not None:
            node.pop(flag_name(leaf), None)
    return clean


def merge_stored(
    new: dict[str, Any], stored: dict[str, Any], secret_fields: Iterable[str]
) -> tuple[dict[str, Any], list[str]]:
    """`new` with every omitted or masked secret taken from `stored`, and the paths so taken."""
    merged = strip_flags(new, secret_fields)
    kept: list[str] = []
    for path in secret_fields:
        parents, leaf = _split(path)
        node = _parent(merged, parents, create=False)
        if node is None or node.get(leaf) not in (None, MASK):
            continue
        old = value_at(stored, path)
        if old is None:
            node.pop(leaf, None)
        else:
            node[leaf] = old
            kept.append(path)
    return merged, kept


def value_at(config: dict[str, Any], path: str) -> Any:
    parents, leaf = _split(path)
    node = _parent(config, parents, create=False)
    return node.get(leaf) if node is not None else None
