"""A package on an SFTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from libs.connectors.errors import ConfigError
from libs.connectors.oneroster_csv.config import OneRosterCsvConfig
from libs.connectors.oneroster_csv.local import Fetched


class SftpSource:
    def __init__(self, config: OneRosterCsvConfig, *, work_dir: Path) -> None:
        self.config = config
        self.work_dir = work_dir

    def fetch(self) -> Fetched:
        raise ConfigError("fetching packages over SFTP is not available in this build")

    def describe(self) -> dict[str, Any]:
        raise ConfigError("fetching packages over SFTP is not available in this build")
