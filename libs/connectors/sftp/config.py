"""The `sftp` block of a provider config: where to connect, how to prove who we are, which host to trust."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from libs.connectors.sftp.keys import parse_private_key

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


class SftpSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, str_strip_whitespace=True)

    host: str = Field(min_length=1, max_length=253)
    port: int = Field(default=22, ge=1, le=65535)
    username: str = Field(min_length=1, max_length=128)
    # a key file in the tenant's key folder SFTP_KEY_DIR/<tenantId>/ (a mounted secret), relative to
    # it or absolute inside it; read at connect time, never stored
    private_key_path: str | None = Field(default=None, alias="privateKeyPath", max_length=1024)
    # the key itself (PEM or OpenSSH format), stored encrypted with the provider config
    private_key: str | None = Field(default=None, alias="privateKey", repr=False)
    private_key_passphrase: str | None = Field(default=None, alias="privateKeyPassphrase", repr=False)
    password: str | None = Field(default=None, repr=False)
    host_key_fingerprint: str = Field(alias="hostKeyFingerprint")
    connect_timeout: float = Field(default=20.0, gt=0, le=300, alias="connectTimeout")

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        if any(c.isspace() for c in value) or "/" in value or "@" in value:
            raise ValueError("must be a host name or IP address (no scheme, user or path)")
        return value

    @field_validator("host_key_fingerprint")
    @classmethod
    def _fingerprint(cls, value: str) -> str:
        return normalize_fingerprint(value)

    @field_validator("private_key_path")
    @classmethod
    def _key_path(cls, value: str | None) -> str | None:
        # where the path may lead is checked when the key is read (sftp/keys.py KeyFolder), with
        # one message whatever exists there; here only what no path may contain
        if value is not None and any(ord(c) < 32 or ord(c) == 127 for c in value):
            raise ValueError("must be a file name in the tenant's key folder, without control characters")
        return value or None

    @model_validator(mode="after")
    def _credentials(self) -> SftpSettings:
        if self.private_key and self.private_key_path:
            raise ValueError("give either privateKey or privateKeyPath, not both")
        if not (self.private_key or self.private_key_path or self.password):
            raise ValueError("needs a credential: privateKeyPath, privateKey or password")
        if self.private_key:
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
