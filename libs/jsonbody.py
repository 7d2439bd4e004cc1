"""A client's JSON validated as JSON: pydantic's lax mode would take 0 for false and true or "5"
for a number, which the OpenAPI document does not allow. Strict JSON mode takes JSON's own types
(strings for enums, UUIDs and times); 89.0 is an integer in JSON Schema, so it is passed as 89."""

from __future__ import annotations

from typing import Any, TypeVar

import orjson
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)


def validate_strict(model: type[M], value: Any) -> M:
    return model.model_validate_json(orjson.dumps(_integral(value)), strict=True)


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value
