"""Provider config of ONEROSTER_CSV: a package on an SFTP server, or (trusted setups only) a local path."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, field_validator, model_validator

from libs.connectors.base import ProviderConfig
from libs.connectors.sftp.config import SftpSettings


class OneRosterCsvConfig(ProviderConfig):
    secret_fields: ClassVar[tuple[str, ...]] = ("sftp.password", "sftp.privateKey", "sftp.privateKeyPassphrase")
    destination_fields: ClassVar[tuple[str, ...]] = (
        "sftp.host",
        "sftp.port",
        "sftp.username",
        "sftp.hostKeyFingerprint",
    )

    sftp: SftpSettings | None = None
    # a directory holding manifest.csv, a directory of zips (the newest complete one is taken), or one zip
    remote_path: str | None = Field(default=None, alias="remotePath")
    # a folder or zip on the worker's own disk; only where ALLOW_LOCAL_CSV_PATHS is set (demo, tests)
    local_path: str | None = Field(default=None, alias="localPath")
    # which zips in a directory are packages, e.g. "oneroster_*.zip"
    file_pattern: str = Field(default="*.zip", alias="filePattern", min_length=1, max_length=200)
    # seconds between the two size/mtime looks that tell a finished upload from one still being written
    stable_seconds: float = Field(default=2.0, ge=0, le=600, alias="stableSeconds")
    # the userIds type holding students' numbers (e.g. "StudentNumber"); by default `identifier` is used
    student_number_id_type: str | None = Field(default=None, alias="studentNumberIdType", max_length=100)

    @field_validator("remote_path", "local_path")
    @classmethod
    def _absolute(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if not value.startswith("/"):
            raise ValueError("must be an absolute path, e.g. /exports/oneroster")
        if "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value

    @field_validator("file_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        if "/" in value:
            raise ValueError("is a file name pattern (e.g. '*.zip'), not a path")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> OneRosterCsvConfig:
        if self.local_path is not None:
            if self.sftp is not None or self.remote_path is not None:
                raise ValueError("give either localPath or sftp + remotePath, not both")
            return self
        if self.sftp is None:
            raise ValueError("needs sftp (host, username, hostKeyFingerprint and a credential) and remotePath")
        if self.remote_path is None:
            raise ValueError("needs remotePath: the directory or zip on the SFTP server, e.g. /exports/oneroster")
        return self


__all__ = ["OneRosterCsvConfig"]
