"""The provider form of each provider type ("Add provider", "Edit connection"), built from its
config JSON schema.

`GET /api/v1/provider-types` gives each type's schema and secret fields; this module turns them
into labelled inputs (secrets as password inputs that are never filled), turns a saved (masked)
config into the values an edit form starts from, and turns a submitted form back into the JSON
body the API validates. Validation itself is the API's: this module only coerces numbers and
drops empty inputs so that defaults apply (and, on an edit, a blank secret keeps the stored one).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from libs.providers.masking import flag_name
from services.api.schemas import ConnectionTestResult, Provider, ProviderTypeInfo

TYPE_TITLES = {
    "CLEVER": ("Clever", "Clever's Data API v3 with a district app's credentials or token."),
    "CLASSLINK": ("ClassLink", "A ClassLink Roster Server (OneRoster 1.1 with OAuth 1.0a)."),
    "ONEROSTER_API": ("OneRoster API", "Any OneRoster 1.1 REST server (OAuth 1.0a or OAuth 2)."),
    "ONEROSTER_CSV": ("OneRoster CSV", "OneRoster 1.1 CSV packages dropped on an SFTP server."),
}
# where this server may also read packages from a local folder (ALLOW_LOCAL_CSV_PATHS), it says so
LOCAL_DESCRIPTIONS = {
    "ONEROSTER_CSV": "OneRoster 1.1 CSV packages on an SFTP server, or in a folder or zip on this server.",
}

LABELS = {
    "clientId": "Client ID",
    "clientSecret": "Client secret",
    "districtId": "District ID",
    "accessToken": "District access token",
    "apiUrl": "API URL",
    "oauthUrl": "OAuth URL",
    "baseUrl": "Base URL",
    "tokenUrl": "Token URL",
    "tenantId": "Roster Server name",
    "sftp": "SFTP server",
    "host": "Host",
    "port": "Port",
    "username": "User name",
    "password": "Password",
    "privateKey": "Private key",
    "privateKeyPath": "Private key file on the worker",
    "privateKeyPassphrase": "Private key passphrase",
    "hostKeyFingerprint": "Host key fingerprint",
    "connectTimeout": "Connect timeout (seconds)",
    "remotePath": "Remote path",
    "localPath": "Package path on this server",
    "filePattern": "Package file pattern",
    "stableSeconds": "Upload settle time (seconds)",
    "studentNumberIdType": "Student number ID type",
    "studentNumberUserIdType": "Student number ID type",
    "pageSize": "Page size",
    "requestsPerMinute": "Requests per minute",
    "maxRetryWaitSeconds": "Longest retry wait (seconds)",
    "maxIncrementalEvents": "Most events for an incremental sync",
    "includeStaff": "Include school staff",
    "enrollmentPartitions": "Fetch enrollments per",
    "deltaOverlapSeconds": "Incremental overlap (seconds)",
    "signatureMethod": "Signature method",
    "auth": "Authentication",
    "scope": "OAuth scope",
}

HINTS = {
    "districtId": "The 24-character id of the district in Clever.",
    "accessToken": "Leave empty to obtain it with the client ID and secret.",
    "tenantId": "The district's Roster Server, e.g. springtownisd-tx.",
    "baseUrl": "The OneRoster root, ending in /ims/oneroster/v1p1.",
    "hostKeyFingerprint": "SHA256:… as `ssh-keyscan HOST | ssh-keygen -lf -` prints it.",
    "remotePath": "A folder or zip on the SFTP server, e.g. /exports/oneroster.",
    "localPath": "An absolute path readable by the workers, e.g. /data/oneroster.",
    "privateKey": "PEM or OpenSSH format; stored encrypted.",
    "privateKeyPath": "A file in your district's key folder on the workers (SFTP_KEY_DIR/<tenant>/), e.g. sftp-key.",
}

# mutually exclusive ways to reach the data, per type: (value, label, top-level config keys);
# the first key is the one that tells a saved config's source
SOURCES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "ONEROSTER_CSV": [
        ("sftp", "SFTP server", ("sftp", "remotePath", "filePattern", "stableSeconds")),
        ("local", "A folder or zip on this server", ("localPath",)),
    ],
}
LOCAL_ONLY_KEYS = {"localPath"}
# optional overrides most setups never touch
ADVANCED_KEYS = {"studentNumberIdType", "studentNumberUserIdType", "baseUrl", "tokenUrl", "scope"}
# settings an admin has to see even though they have a default: never under "Advanced"
IMPORTANT_KEYS = {"port", "apiUrl"}


@dataclass
class Input:
    path: str  # the API's dotted path, e.g. "config.sftp.port"
    label: str
    kind: str  # text, password, textarea, integer, number, checkbox, select
    required: bool
    hint: str | None = None
    default: Any = None
    options: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    secret: bool = False

    @property
    def key(self) -> str:
        return self.path.rsplit(".", 1)[-1]


@dataclass
class Section:
    path: str  # "config" or a nested block such as "config.sftp"
    legend: str | None
    inputs: list[Input]
    advanced: list[Input]
    optional: bool = False
    source: str | None = None  # the SOURCES value this section belongs to


@dataclass
class TypeForm:
    provider_type: str
    title: str
    description: str
    sections: list[Section]
    sources: list[tuple[str, str]]

    def all_inputs(self) -> list[Input]:
        return [i for s in self.sections for i in (*s.inputs, *s.advanced)]

    def field_name(self, item: Input) -> str:
        return f"{self.provider_type}:{item.path}"


def humanize(key: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", key).split()
    return " ".join([words[0].capitalize(), *(w.lower() for w in words[1:])]) if words else key


def _resolve(schema: Mapping[str, Any], node: Mapping[str, Any]) -> tuple[Mapping[str, Any], bool]:
    """The node behind $ref / anyOf-with-null, and whether null is allowed."""
    nullable = False
    if "anyOf" in node:
        options = [o for o in node["anyOf"] if o.get("type") != "null"]
        nullable = len(options) < len(node["anyOf"])
        node = {**{k: v for k, v in node.items() if k != "anyOf"}, **(options[0] if options else {})}
    if "$ref" in node:
        name = str(node["$ref"]).rsplit("/", 1)[-1]
        node = {**schema.get("$defs", {}).get(name, {}), **{k: v for k, v in node.items() if k != "$ref"}}
    return node, nullable


def _input(path: str, key: str, node: Mapping[str, Any], *, required: bool, secret: bool) -> Input:
    kind = {"integer": "integer", "number": "number", "boolean": "checkbox"}.get(str(node.get("type")), "text")
    options = [str(v) for v in node.get("enum", [])]
    if options:
        kind = "select"
    if key == "privateKey":
        kind = "textarea"
    elif secret:
        kind = "password"
    return Input(
        path=path,
        label=LABELS.get(key, humanize(key)),
        kind=kind,
        required=required,
        hint=node.get("description") or HINTS.get(key),
        default=node.get("default"),
        options=options,
        minimum=node.get("minimum", node.get("exclusiveMinimum")),
        maximum=node.get("maximum"),
        secret=secret,
    )


def build(info: ProviderTypeInfo, *, allow_local_paths: bool) -> TypeForm:
    schema = info.config_schema
    secrets = {f"config.{p}" for p in info.secret_fields}
    type_name = info.provider_type.value
    title, description = TYPE_TITLES.get(type_name, (humanize(type_name.lower()), ""))
    if allow_local_paths:
        description = LOCAL_DESCRIPTIONS.get(type_name, description)
    sources = SOURCES.get(type_name, []) if allow_local_paths else []
    source_of = {key: value for value, _, keys in sources for key in keys}
    main = Section(path="config", legend=None, inputs=[], advanced=[])
    nested: list[Section] = []
    required = set(schema.get("required", []))
    for key, raw in schema.get("properties", {}).items():
        if key in LOCAL_ONLY_KEYS and not allow_local_paths:
            continue
        node, nullable = _resolve(schema, raw)
        path = f"config.{key}"
        if node.get("type") == "object" or "properties" in node:
            inner_required = set(node.get("required", []))
            section = Section(
                path=path,
                legend=LABELS.get(key, humanize(key)),
                inputs=[],
                advanced=[],
                optional=key not in required,
                source=source_of.get(key),
            )
            for inner_key, inner_raw in node.get("properties", {}).items():
                inner, inner_nullable = _resolve(schema, inner_raw)
                item = _input(
                    f"{path}.{inner_key}",
                    inner_key,
                    inner,
                    required=inner_key in inner_required,
                    secret=f"{path}.{inner_key}" in secrets,
                )
                _place(section, item, inner_nullable)
            nested.append(section)
            continue
        item = _input(path, key, node, required=key in required, secret=path in secrets)
        if source_of.get(key):
            found = next((s for s in nested if s.source == source_of[key] and s.legend is None), None)
            if found is None:
                found = Section(path="config", legend=None, inputs=[], advanced=[], source=source_of[key])
                nested.append(found)
            _place(found, item, nullable)
        else:
            _place(main, item, nullable)
    return TypeForm(
        provider_type=type_name,
        title=title,
        description=description,
        sections=[main, *nested],
        sources=[(value, label) for value, label, _ in sources],
    )


def _place(section: Section, item: Input, nullable: bool) -> None:
    # optional fields with a real default are tuning knobs: tucked under "Advanced"
    if item.key in IMPORTANT_KEYS:
        section.inputs.append(item)
    elif not item.required and ((item.default is not None and not nullable) or item.key in ADVANCED_KEYS):
        section.advanced.append(item)
    else:
        section.inputs.append(item)


def config_from_form(form: TypeForm, data: Mapping[str, str]) -> dict[str, Any]:
    """The config object of a submitted form. Empty inputs are left out (so defaults apply)."""
    chosen = data.get(f"{form.provider_type}:source") or (form.sources[0][0] if form.sources else None)
    config: dict[str, Any] = {}
    for section in form.sections:
        if section.source is not None and section.source != chosen:
            continue
        for item in (*section.inputs, *section.advanced):
            name = form.field_name(item)
            if item.kind == "checkbox":
                if f"{name}.present" in data:
                    _put(config, item.path, name in data)
                continue
            raw = data.get(name, "")
            value = raw if item.kind == "textarea" else raw.strip()
            if value == "":
                continue
            _put(config, item.path, _coerce(item, value))
    return config


def _coerce(item: Input, value: str) -> Any:
    # a value that does not parse is passed on as text: the API names the field and the problem
    try:
        if item.kind == "integer":
            return int(value)
        if item.kind == "number":
            return float(value)
    except ValueError:
        return value
    return value


def _put(config: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")[1:]
    node = config
    for key in parents:
        node = node.setdefault(key, {})
    node[leaf] = value


def safe_values(form: TypeForm, data: Mapping[str, str]) -> dict[str, str]:
    """What may be put back into a re-rendered form: everything but the secrets."""
    secret_names = {form.field_name(i) for i in form.all_inputs() if i.secret}
    return {k: v for k, v in data.items() if k.startswith(f"{form.provider_type}:") and k not in secret_names}


def values_from_config(form: TypeForm, config: Mapping[str, Any]) -> dict[str, str]:
    """A saved config (as the API shows it) as form values: every setting, never a secret."""
    values: dict[str, str] = {}
    for item in form.all_inputs():
        if item.secret:
            continue
        value = _get(config, item.path)
        if value is None:
            continue
        name = form.field_name(item)
        if item.kind == "checkbox":
            values[name] = "true" if value else "false"
        else:
            values[name] = _text(value)
    # the first key of a source is the one only that source has (sftp, localPath)
    sources = SOURCES.get(form.provider_type, [])
    chosen = next((value for value, _, keys in sources if keys[0] in config), None)
    if form.sources and chosen is not None:
        values[f"{form.provider_type}:source"] = chosen
    return values


def stored_secrets(form: TypeForm, config: Mapping[str, Any]) -> dict[str, bool]:
    """Per secret input path, whether a value is stored (the API's `has<Field>` flag beside it)."""
    stored = {}
    for item in form.all_inputs():
        if item.secret:
            *parents, leaf = item.path.split(".")
            node = _get(config, ".".join([*parents]))
            stored[item.path] = isinstance(node, Mapping) and node.get(flag_name(leaf)) is True
    return stored


def _get(config: Mapping[str, Any], path: str) -> Any:
    node: Any = config
    for key in path.split(".")[1:]:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def _text(value: Any) -> str:
    # 2.0 reads as "2" in a number input, as it was most likely typed
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def edit_context(
    form: TypeForm | None,
    provider: Provider,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    test: ConnectionTestResult | None = None,
) -> dict[str, Any]:
    """What the provider form needs in edit mode: the saved settings (or, after a refused or
    tested submission, what was submitted), and which secrets are stored; never a secret."""
    if form is None or provider.deleted_at is not None:
        return {"edit_form": None}
    if values is None:
        values = {"name": provider.name, **values_from_config(form, provider.config)}
    return {
        "edit_form": form,
        "provider": provider,
        "type_forms": [form],
        "values": values,
        "errors": errors or {},
        "test": test,
        "stored": stored_secrets(form, provider.config),
    }
