"""The `sftp` block of a provider config: where to connect, how to prove who we are, which host to trust."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from libs.connectors.sftp.keys import parse_private_key
from libs.text import Line, Lines, Text

# `ssh-keygen -lf` prints "256 SHA256:<43 base64 chars> comment (ED25519)"; the digest is what we pin
_FINGERPRINT = re.compile(r"SHA256:([A-Za-z0-9+/]{43})=?")


def normalize_fingerprint(value: str) -> str:
    """`SHA256:<base64 without padding>` from a fingerprint or a whole `ssh-keygen -lf` line."""
    match = _FINGERPRINT.search(value.strip())
    if match is None:
        raise ValueError(
            "must be a SHA256 host key fingerprint as `ssh-keygen -lf` prints it, e.g. "
            "'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s' (get it with `ssh-keyscan HOST | ssh-keygen -lf -`)"
        )
    return f"SHA256:{match.group(1)}"


_HOST_HINT = "must be a host name or IP address (no scheme, user or path)"
# no "/", "@", control character or white space; spelled out rather than \s, whose Unicode set
# (U+0085, U+00A0, ...) a client's regex engine may not share
_HOST_PATTERN = "^[^/@\\x00-\\x20\\x7f\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]*$"
# an OpenSSH or PEM private key that parses (with privateKeyPassphrase when it is encrypted)
_KEY_FORMAT: JsonDict = {"format": "ssh-private-key"}
_CREDENTIAL: JsonDict = {name: {"type": "string"} for name in ("privateKey", "privateKeyPath", "password")}


class SftpSettings(BaseModel):
    # the credential rules below, as the schema says them
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "anyOf": [{"required": [name], "properties": {name: schema}} for name, schema in _CREDENTIAL.items()],
            "not": {"required": ["privateKey", "privateKeyPath"], "properties": _CREDENTIAL},
        },
    )

    host: Annotated[str, Text(_HOST_PATTERN, _HOST_HINT)] = Field(min_length=1, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    username: Line = Field(min_length=1, max_length=128)
    # a key file in the tenant's key folder SFTP_KEY_DIR/<tenantId>/ (a mounted secret), relative to
    # it or absolute inside it; read at connect time, never stored. Where the path may lead is
    # checked when the key is read (sftp/keys.py KeyFolder), with one message whatever exists there
    private_key_path: Line | None = Field(default=None, alias="privateKeyPath", min_length=1, max_length=1024)
    # the key itself (PEM or OpenSSH format), stored encrypted with the provider config
    private_key: Lines | None = Field(
        default=None, alias="privateKey", repr=False, min_length=1, max_length=65536, json_schema_extra=_KEY_FORMAT
    )
    private_key_passphrase: Line | None = Field(default=None, alias="privateKeyPassphrase", repr=False, max_length=1024)
    password: Line | None = Field(default=None, repr=False, min_length=1, max_length=1024)
    host_key_fingerprint: Annotated[str, Text(r"^[^\x00-\x1f\x7f]*SHA256:[A-Za-z0-9+/]{43}[^\x00-\x1f\x7f]*$")] = Field(
        alias="hostKeyFingerprint", max_length=1000
    )
    connect_timeout: float = Field(default=20.0, gt=0, le=300, alias="connectTimeout")

    @field_validator("host_key_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        return normalize_fingerprint(value)

    @model_validator(mode="after")
    def _credentials(self) -> SftpSettings:
        if self.private_key is not None and self.private_key_path is not None:
            raise ValueError("give either privateKey or privateKeyPath, not both")
        if self.private_key is None and self.private_key_path is None and self.password is None:
            raise ValueError("needs a credential: privateKeyPath, privateKey or password")
        if self.private_key is not None:
            # fail when the provider is saved, not at 3 a.m.; the message never echoes the key
            try:
                parse_private_key(self.private_key, self.private_key_passphrase)
            except ValueError as exc:
                raise ValueError(f"privateKey {exc}") from None
        return self

    def redacted(self) -> dict[str, Any]:
        """What may appear in logs and connection reports."""
        return {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "auth": self.auth_methods(),
            "hostKeyFingerprint": self.host_key_fingerprint,
        }

    def auth_methods(self) -> list[str]:
        methods = []
        if self.private_key or self.private_key_path:
            methods.append("publickey")
        if self.password:
            methods.append("password")
        return methods


__all__ = ["SftpSettings", "normalize_fingerprint"]
