"""Provider configs: validate with the connector's model, seal, open, mask, merge secrets.

Everything here is generic: what is secret comes from each config model's `secret_fields`, and
where secrets are sent from its `destination_fields`, never from per-provider code.
"""

from __future__ import annotations

import logging
import types
import typing
from typing import Any

from pydantic import BaseModel

from libs.connectors import registry
from libs.connectors.base import ProviderConfig
from libs.connectors.errors import ConfigError
from libs.db.crypto import ConfigCipher, DecryptionError
from libs.enums import ProviderType
from libs.providers import masking
from libs.providers.errors import ConfigUnreadable, InvalidProvider
from libs.providers.store import StoredProvider

log = logging.getLogger(__name__)


def config_model(provider_type: ProviderType) -> type[ProviderConfig] | None:
    try:
        return registry.connector_class(provider_type).config_model
    except ConfigError:
        return None


def secret_paths(provider_type: ProviderType) -> list[str] | None:
    """JSON (alias) paths of the secret fields; None when this build has no such connector."""
    return _paths(provider_type, "secret_fields")


def _paths(provider_type: ProviderType, fields: str) -> list[str] | None:
    model = config_model(provider_type)
    if model is None:
        return None
    return [_json_path(model, path) for path in getattr(model, fields)]


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
    """The config as it will be stored (normalized by the connector's model), or InvalidProvider."""
    if config_model(provider_type) is None:
        msg = f"provider type {provider_type.value} is not supported by this build"
        raise InvalidProvider.field("providerType", msg=msg)
    try:
        parsed = registry.parse_config(provider_type, config, strict=True)
    except ConfigError as exc:
        errors = exc.details.get("errors")
        if isinstance(errors, list) and errors:
            raise InvalidProvider([{**e, "loc": ("config", *e.get("loc", ()))} for e in errors]) from None
        raise InvalidProvider.field("config", msg=exc.message) from None
    return parsed.model_dump(mode="json", by_alias=True, exclude_none=True)


def masked(provider_type: ProviderType, config: dict[str, Any]) -> dict[str, Any]:
    paths = secret_paths(provider_type)
    if paths is None:
        # without the model nothing tells a secret from a setting: hide every value
        return {key: masking.MASK for key in config}
    return masking.mask(config, paths)


def config_of(cipher: ConfigCipher, provider: StoredProvider, edit: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provider's config in clear; with `edit`, that edit validated, the secrets it leaves out
    (or sends back masked) taken from the stored config: refused (naming them) when the edit
    changes a destination field, so a stored secret is only ever sent where it was entered for."""
    try:
        stored = cipher.decrypt(provider.config_ciphertext, provider_id=str(provider.id))
    except DecryptionError as exc:
        log.error("provider %s: stored config cannot be decrypted (%s)", provider.id, exc)
        raise ConfigUnreadable(str(provider.id)) from None
    if edit is None:
        return stored
    provider_type = ProviderType(provider.provider_type)
    merged, kept = masking.merge_stored(edit, stored, secret_paths(provider_type) or [])
    config = validate(provider_type, merged)
    if kept:
        _refuse_moved_secrets(provider_type, stored, config, kept)
    return config


def _refuse_moved_secrets(
    provider_type: ProviderType, stored: dict[str, Any], config: dict[str, Any], kept: list[str]
) -> None:
    # both sides as the model normalizes them: `https://x/` and `https://x` are one destination
    try:
        before = validate(provider_type, stored)
    except InvalidProvider:
        before = stored
    moved = [
        path
        for path in _paths(provider_type, "destination_fields") or []
        if masking.value_at(config, path) != masking.value_at(before, path)
    ]
    if not moved:
        return
    changed, secrets = ", ".join(moved), ", ".join(kept)
    why = "a stored secret is never sent to a changed destination"
    raise InvalidProvider(
        [
            {"loc": ("config",), "msg": f"{changed} changed: enter {secrets} again ({why})"},
            *({"loc": ("config", *path.split(".")), "msg": f"enter it again: {changed} changed"} for path in kept),
        ]
    )
