"""Small hand-written packages: each test writes only the files its quirk needs."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.oneroster_csv.connector import WHOLE_PACKAGE, OneRosterCsvConnector
from libs.connectors.oneroster_csv.extraction import PackageExtraction
from libs.connectors.records import Item, Record, RecordError
from libs.connectors.registry import build_connector
from libs.enums import EntityType, ProviderType

ORGS = "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId\n"
SESSIONS = "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear\n"
COURSES = (
    "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes\n"
)
CLASSES = (
    "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,"
    "schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods\n"
)
USERS = (
    "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
    "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password\n"
)
ENROLLMENTS = (
    "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate\n"
)


def manifest(**modes: str) -> str:
    lines = ["propertyName,value", "manifest.version,1.0", "oneroster.version,1.1"]
    lines += [f"file.{name},{mode}" for name, mode in modes.items()]
    return "\n".join(lines) + "\n"


def bulk_manifest(*names: str) -> str:
    return manifest(**dict.fromkeys(names, "bulk"))


@dataclass
class Result:
    items: list[Item]
    extraction: PackageExtraction

    def records(self, entity: EntityType | None = None) -> list[Any]:
        return [i for i in self.items if isinstance(i, Record) and (entity is None or i.entity_type is entity)]

    def errors(self) -> list[RecordError]:
        return [i for i in self.items if isinstance(i, RecordError)]

    def one(self, entity: EntityType, external_id: str) -> Any:
        (found,) = [r for r in self.records(entity) if r.external_id == external_id]
        return found


Files = dict[str, str | bytes]


@pytest.fixture
def make_package(tmp_path: Path) -> Callable[..., Path]:
    """Write files into a folder (or a zip with `as_zip=True`) and return its path."""
    counter = iter(range(1_000_000))

    def make(files: Files, *, as_zip: bool = False) -> Path:
        folder = tmp_path / f"package{next(counter)}"
        folder.mkdir()
        for name, content in files.items():
            data = content.encode("utf-8") if isinstance(content, str) else content
            (folder / name).write_bytes(data)
        if not as_zip:
            return folder
        archive = folder.with_suffix(".zip")
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in files:
                zf.write(folder / name, name)
        return archive

    return make


def connector_for(path: Path, **config: Any) -> OneRosterCsvConnector:
    context = ConnectorContext(provider_id="test-provider", allow_local_paths=True)
    connector = build_connector(ProviderType.ONEROSTER_CSV, {"localPath": str(path), **config}, context)
    assert isinstance(connector, OneRosterCsvConnector)
    return connector


def read_package(path: Path, **config: Any) -> Result:
    connector = connector_for(path, **config)
    step = WHOLE_PACKAGE
    extraction = connector.extract(step)
    return Result(items=list(extraction), extraction=extraction)


@pytest.fixture
def read() -> Callable[..., Result]:
    return read_package
