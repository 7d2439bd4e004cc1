"""manifest.csv: the package's version and, per file, absent / bulk / delta."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from enum import StrEnum

from libs.connectors.errors import PackageError
from libs.connectors.oneroster_csv.package import Package

MANIFEST = "manifest.csv"
# the manifest is a handful of lines; anything this big is not a manifest
_MAX_BYTES = 1 << 20


class FileMode(StrEnum):
    ABSENT = "absent"
    BULK = "bulk"
    DELTA = "delta"


@dataclass
class Manifest:
    version: str | None
    # lower-cased file name ("users.csv") -> mode: `file.userprofiles` declares userProfiles.csv
    files: dict[str, FileMode] = field(default_factory=dict)
    properties: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def mode(self, file_name: str) -> FileMode:
        return self.files.get(file_name.lower(), FileMode.ABSENT)


def _file_name(key: str) -> str:
    # "file.academicSessions" -> "academicSessions.csv"
    return key[len("file.") :] + ".csv"


def read_manifest(package: Package) -> Manifest:
    real = package.find(MANIFEST)
    if real is None:
        raise PackageError(
            f"{package.name} has no manifest.csv; a OneRoster CSV package must include it "
            f"(files found: {', '.join(sorted(package.files())) or 'none'})"
        )
    with package.open(real) as handle:
        data = handle.read(_MAX_BYTES + 1)
    if len(data) > _MAX_BYTES:
        raise PackageError(f"{real} is larger than 1 MB; it is not a OneRoster manifest")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise PackageError(f"{real}: line {line} is not valid UTF-8") from None
    rows = [row for row in csv.reader(io.StringIO(text, newline="")) if any(cell.strip() for cell in row)]
    if not rows:
        raise PackageError(f"{real} is empty")
    first = [cell.strip().lstrip("\ufeff").lower() for cell in rows[0]]
    if first[:2] == ["propertyname", "value"]:
        rows = rows[1:]
    manifest = Manifest(version=None)
    for number, row in enumerate(rows, start=2):
        if len(row) < 2:
            raise PackageError(f"{real}: line {number} has no value (expected 'propertyName,value')")
        key, value = row[0].strip().lstrip("\ufeff"), row[1].strip()
        manifest.properties[key] = value
        lowered = key.lower()
        if lowered == "oneroster.version":
            manifest.version = value or None
        elif lowered.startswith("file."):
            mode_text = value.lower()
            if not mode_text:
                manifest.warnings.append(f"{real}: {key} has no value; treated as absent")
                mode = FileMode.ABSENT
            else:
                try:
                    mode = FileMode(mode_text)
                except ValueError:
                    raise PackageError(f"{real}: {key} is '{value}'; expected absent, bulk or delta") from None
            manifest.files[_file_name(key).lower()] = mode
    return manifest


__all__ = ["MANIFEST", "FileMode", "Manifest", "read_manifest"]
