"""Clever's own Swagger 2.0 spec (v3.0-client.yml) as an independent client, with reality fixes.

bravado builds every operation from the spec at run time and validates each response against
its schemas; it knows nothing of our simulator or connector. Two overlays are applied:

- the spec-vs-reality fixes of the Clever research notes (§8): `previous_attributes` sits in
  an event's `data` beside `object`; term dates and district pause dates are plain dates;
  students carry an `email` in their role;
- a strict layer the spec lacks: the fields Clever's docs call "Guaranteed" are required, and
  list responses must have `data` and `links` with `rel` and `uri`.
"""

from __future__ import annotations

import copy
import re
import warnings
from pathlib import Path
from typing import Any

import yaml

with warnings.catch_warnings():
    # bravado's dependencies still use jsonschema's deprecated RefResolver at import time
    warnings.simplefilter("ignore", DeprecationWarning)
    from bravado.client import SwaggerClient
    from bravado.exception import HTTPNotFound
    from bravado.requests_client import RequestsClient
    from bravado_core.exception import SwaggerValidationError
    from bravado_core.formatter import SwaggerFormat
    from jsonschema.exceptions import ValidationError

__all__ = ["HTTPNotFound", "ValidationError", "clever_client", "reality_spec"]

# "Guaranteed" fields per object (dev.clever.com object pages, research notes §2)
GUARANTEED: dict[str, list[str]] = {
    "District": ["id", "name"],
    "School": ["id", "district", "name"],
    "Section": ["id", "district", "school", "name", "sis_id", "students", "teachers"],
    "User": ["id", "district", "name", "roles", "created", "last_modified"],
    "Student": ["school", "schools", "sis_id"],
    "Teacher": ["school", "schools", "sis_id"],
    "Staff": ["schools"],
    "Term": ["id", "district"],
    "Course": ["id", "district"],
    "Link": ["rel", "uri"],
    "Event": ["id", "type", "created"],
}

EVENT_OBJECTS = ("courses", "districts", "resources", "schools", "sections", "terms", "users")


def reality_spec(spec_file: Path, host: str) -> dict[str, Any]:
    """The client spec pointed at `host` (http), with the reality fixes and the strict layer."""
    spec: dict[str, Any] = yaml.safe_load(spec_file.read_text())
    spec = copy.deepcopy(spec)
    spec["host"] = host
    spec["schemes"] = ["http"]
    definitions = spec["definitions"]
    for term_field in ("start_date", "end_date"):
        definitions["Term"]["properties"][term_field]["format"] = "date"
    for pause in ("pause_start", "pause_end"):
        definitions["District"]["properties"][pause]["format"] = "date"
    definitions["Student"]["properties"]["email"] = {"type": "string", "x-nullable": True}
    for kind in EVENT_OBJECTS:
        singular = {"courses": "Course", "districts": "District", "resources": "Resource"}.get(kind)
        target = singular or kind[:-1].capitalize()
        for action in ("created", "updated", "deleted"):
            name = f"{kind}.{action}"
            if name not in definitions:
                continue
            nested = {
                "type": "object",
                "properties": {
                    "object": {"$ref": f"#/definitions/{target}"},
                    "previous_attributes": {"type": "object"},
                },
                "required": ["object"],
            }
            definitions[name]["allOf"][1]["properties"]["data"] = nested
            definitions[name]["allOf"][1]["properties"].pop("previous_attributes", None)
    for name, required in GUARANTEED.items():
        definitions[name]["required"] = sorted(set(definitions[name].get("required", [])) | set(required))
    for name, definition in definitions.items():
        props = definition.get("properties", {})
        if name.endswith("sResponse") and set(props) == {"data", "links"}:
            definition["required"] = ["data", "links"]
        elif name.endswith("Response") and "data" in props:
            definition["required"] = ["data"]
    return spec


# Clever's timestamps: "2023-04-23T16:07:28.860Z" (the spec calls the format "datetime")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z")


def _check_timestamp(value: str | None) -> None:
    # null is the schema's business (x-nullable), not the format's
    if value is not None and not TIMESTAMP.fullmatch(value):
        raise SwaggerValidationError(f"{value!r} is not a Clever timestamp")


def clever_client(spec_file: Path, base_url: str, token: str) -> Any:
    host = base_url.split("://", 1)[1]
    http = RequestsClient()
    http.set_api_key(host, f"Bearer {token}", param_name="Authorization", param_in="header")
    timestamp = SwaggerFormat(
        format="datetime", to_wire=str, to_python=str, validate=_check_timestamp, description="Clever timestamp"
    )
    config = {
        "validate_responses": True,
        "validate_requests": True,
        "use_models": False,
        "validate_swagger_spec": True,
        "formats": [timestamp],
    }
    with warnings.catch_warnings():
        # the spec's own style warnings ($ref with siblings) are Clever's, not the simulator's
        warnings.simplefilter("ignore")
        return SwaggerClient.from_spec(reality_spec(spec_file, host), http_client=http, config=config)
