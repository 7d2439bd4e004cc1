"""Provider config of ONEROSTER_CSV: a package on an SFTP server, or (trusted setups only) a local path."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import ConfigDict, Field, model_validator
from pydantic.config import JsonDict

from libs.connectors.base import ProviderConfig
from libs.connectors.sftp.config import SftpSettings
from libs.text import Line, Text

AbsolutePath = Annotated[str, Text(r"^/[^\x00-\x1f\x7f]*$", "must be an absolute path, e.g. /exports/oneroster")]
_STRING: JsonDict = {"type": "string"}
_NULL: JsonDict = {"type": "null"}
_OBJECT: JsonDict = {"type": "object"}


class OneRosterCsvConfig(ProviderConfig):
    # the one-source rule below, as the schema says it
    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"required": ["localPath"], "properties": {"localPath": _STRING, "sftp": _NULL, "remotePath": _NULL}},
                {
                    "required": ["sftp", "remotePath"],
                    "properties": {"sftp": _OBJECT, "remotePath": _STRING, "localPath": _NULL},
                },
            ]
        }
    )
    secret_fields: ClassVar[tuple[str, ...]] = ("sftp.password", "sftp.privateKey", "sftp.privateKeyPassphrase")
    destination_fields: ClassVar[tuple[str, ...]] = (
        "sftp.host",
        "sftp.port",
        "sftp.username",
        "sftp.hostKeyFingerprint",
    )

    sftp: SftpSettings | None = None
    # a directory holding manifest.csv, a directory of zips (the newest complete one is taken), or one zip
    remote_path: AbsolutePath | None = Field(default=None, alias="remotePath", max_length=1024)
    # a folder or zip on the worker's own disk; only where ALLOW_LOCAL_CSV_PATHS is set (demo, tests)
    local_path: AbsolutePath | None = Field(default=None, alias="localPath", max_length=1024)
    # which zips in a directory are packages, e.g. "oneroster_*.zip"
    file_pattern: Annotated[str, Text(r"^[^/\x00-\x1f\x7f]*$", "is a file name pattern (e.g. '*.zip'), not a path")] = (
        Field(default="*.zip", alias="filePattern", min_length=1, max_length=200)
    )
    # seconds between the two size/mtime looks that tell a finished upload from one still being written
    stable_seconds: float = Field(default=2.0, ge=0, le=600, alias="stableSeconds")
    # the userIds type holding students' numbers (e.g. "StudentNumber"); by default `identifier` is used
    student_number_id_type: Line | None = Field(default=None, alias="studentNumberIdType", max_length=100)

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
