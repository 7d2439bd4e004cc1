"""Provider type -> connector class. Imports are lazy so a process loads only what it uses."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from pydantic import ValidationError

from libs.connectors.base import Connector, ConnectorContext, ProviderConfig
from libs.connectors.errors import ConfigError
from libs.enums import ProviderType
from libs.jsonbody import validate_strict

# module:Class of each provider's connector; a new provider type is one line here
_CONNECTORS: dict[ProviderType, str] = {
    ProviderType.CLEVER: "libs.connectors.clever.connector:CleverConnector",
    ProviderType.CLASSLINK: "libs.connectors.classlink.connector:ClassLinkConnector",
    ProviderType.ONEROSTER_API: "libs.connectors.oneroster_api.connector:OneRosterApiConnector",
    ProviderType.ONEROSTER_CSV: "libs.connectors.oneroster_csv.connector:OneRosterCsvConnector",
}


def register(provider_type: ProviderType, target: str) -> None:
    _CONNECTORS[provider_type] = target


def connector_class(provider_type: ProviderType) -> type[Connector]:
    target = _CONNECTORS.get(provider_type)
    if target is None or not _available(target):
        raise ConfigError(f"provider type {provider_type.value} is not supported by this build")
    module_name, _, attr = target.partition(":")
    cls: type[Connector] = getattr(importlib.import_module(module_name), attr)
    assert issubclass(cls, Connector)
    return cls


def _available(target: str) -> bool:
    try:
        return importlib.util.find_spec(target.partition(":")[0]) is not None
    except ModuleNotFoundError:
        return False


def supported_types() -> list[ProviderType]:
    return [t for t, target in _CONNECTORS.items() if _available(target)]


def parse_config(provider_type: ProviderType, config: dict[str, Any], *, strict: bool = False) -> ProviderConfig:
    """The config as its model reads it; `strict` for a client's JSON (`libs.jsonbody`)."""
    model = connector_class(provider_type).config_model
    try:
        return validate_strict(model, config) if strict else model.model_validate(config)
    except ValidationError as exc:
        # without the input values: a rejected config may hold a secret next to the bad field
        errors = exc.errors(include_input=False, include_url=False, include_context=False)
        first = errors[0]
        path = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"config.{path}: {first['msg']}", details={"errors": errors}) from None


def build_connector(provider_type: ProviderType, config: dict[str, Any], context: ConnectorContext) -> Connector:
    cls = connector_class(provider_type)
    return cls(parse_config(provider_type, config), context)


__all__ = ["build_connector", "connector_class", "parse_config", "register", "supported_types"]
