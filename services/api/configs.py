"""Provider configs at the API edge: validate with the connector's model, mask, merge secrets.

Everything here is generic: what is secret comes from each config model's `secret_fields`,
never from per-provider code.
"""

from __future__ import annotations

import logging
import types
import typing
import uuid
from typing import Any

from pydantic import BaseModel

from libs.connectors import registry
from libs.connectors.base import ProviderConfig
from libs.connectors.errors import ConfigError
from libs.db.crypto import ConfigCipher, DecryptionError
from libs.enums import ProviderType
from services.api import masking
from services.api.problems import ApiError, field_error, from_error_list, invalid

log = logging.getLogger(__name__)


def config_model(provider_type: ProviderType) -> type[ProviderConfig] | None:
    try:
        return registry.connector_class(provider_type).config_model
    except ConfigError:
        return None


def secret_paths(provider_type: ProviderType) -> list[str] | None:
    """JSON (alias) paths of the secret fields; None when this build has no such connector."""
    model = config_model(provider_type)
    if model is None:
        return None
    return [_json_path(model, path) for path in model.secret_fields]


def _json_path(model: type[BaseModel], path: str) -> str:
    # secret_fields may name python attributes or JSON keys; responses and storage use JSON keys
    out: list[str] = []
    current: type[BaseModel] | None = model
    for segment in path.split("."):
        if current is None:
            out.append(segment)
            continue
        fields = current.model_fields
        name = segment if segment in fields else next((n for n, f in fields.items() if f.alias == segment), None)
        if name is None:
            out.append(segment)
            current = None
            continue
        info = fields[name]
        out.append(info.alias or name)
        current = _nested_model(info.annotation)
    return ".".join(out)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _nested_model(arg)
            if found is not None:
                return found
    return None


def validate(provider_type: ProviderType, config: dict[str, Any]) -> dict[str, Any]:
    """The config as it will be stored (normalized by the connector's model), or 422."""
    if config_model(provider_type) is None:
        raise invalid(
            [field_error(["providerType"], f"provider type {provider_type.value} is not supported by this build")]
        )
    try:
        parsed = registry.parse_config(provider_type, config)
    except ConfigError as exc:
        errors = exc.details.get("errors")
        if isinstance(errors, list) and errors:
            raise from_error_list(errors, prefix=("config",)) from None
        raise invalid([field_error(["config"], exc.message)]) from None
    return parsed.model_dump(mode="json", by_alias=True, exclude_none=True)


def masked(provider_type: ProviderType, config: dict[str, Any]) -> dict[str, Any]:
    paths = secret_paths(provider_type)
    if paths is None:
        # without the model nothing tells a secret from a setting: hide every value
        return {key: masking.MASK for key in config}
    return masking.mask(config, paths)


def decrypt(cipher: ConfigCipher, provider_id: uuid.UUID, blob: bytes) -> dict[str, Any]:
    try:
        return cipher.decrypt(blob, provider_id=str(provider_id))
    except DecryptionError as exc:
        log.error("provider %s: stored config cannot be decrypted (%s)", provider_id, exc)
        raise ApiError(503, "the stored config of this provider cannot be decrypted with the configured keys") from None


def merge_for_update(provider_type: ProviderType, new: dict[str, Any], stored: dict[str, Any]) -> dict[str, Any]:
    paths = secret_paths(provider_type) or []
    return masking.merge_stored(new, stored, paths)
