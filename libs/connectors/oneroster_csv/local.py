"""A package on the worker's own disk (ALLOW_LOCAL_CSV_PATHS only): a folder, a folder of zips, or a zip."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from libs.connectors.errors import NotFoundError, PackageError
from libs.connectors.oneroster_csv.selection import (
    Entry,
    changed_after_plan,
    folder_files,
    is_package_folder,
    zip_candidates,
)

_CHUNK = 1 << 20


@dataclass
class Fetched:
    """A package ready to read, what to record about it, and how to clean up after."""

    path: Path
    name: str
    info: dict[str, Any]
    temporary: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        for path in self.temporary:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        self.temporary.clear()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _signature(path: Path, layout: str) -> list[list[Any]]:
    """[name, size, mtime in ns] of the package's files: a zip itself, or a folder's CSV files."""
    if layout == "zip":
        stat = path.stat()
        return [[path.name, stat.st_size, stat.st_mtime_ns]]
    files = sorted(p for p in path.iterdir() if p.is_file() and p.name.lower().endswith(".csv"))
    return [[f.name, (st := f.stat()).st_size, st.st_mtime_ns] for f in files]


def _folder_digest(folder: Path) -> str:
    """A folder has no single digest: the digest of its CSV files' names and digests (as a remote
    folder's, see remote.py), so a later run can tell the very same package by it."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(".csv"))
    listing = "\n".join(f"{f.name}\0{sha256_of(f)}" for f in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _entries(folder: Path) -> list[Entry]:
    entries = []
    for child in folder.iterdir():
        stat = child.stat()
        entries.append(Entry(child.name, stat.st_size, stat.st_mtime, child.is_dir()))
    return entries


class LocalSource:
    def __init__(self, path: str, file_pattern: str) -> None:
        self.path = Path(path)
        self.file_pattern = file_pattern

    def locate(self) -> tuple[Path, str]:
        """The package path and its layout: "directory" or "zip"."""
        if self.path.is_file():
            return self.path, "zip"
        if not self.path.is_dir():
            raise NotFoundError(f"localPath {self.path} does not exist")
        entries = _entries(self.path)
        if is_package_folder(entries):
            return self.path, "directory"
        candidates = zip_candidates(entries, self.file_pattern)
        if not candidates and folder_files(entries):
            # CSV files without a manifest: read as a folder, so the package check says what is missing
            return self.path, "directory"
        if not candidates:
            raise NotFoundError(
                f"localPath {self.path} has neither a manifest.csv nor a zip matching '{self.file_pattern}'"
            )
        return self.path / candidates[0].name, "zip"

    def pin(self) -> dict[str, Any]:
        """Which package this run reads, and each of its files' size and time as chosen now."""
        path, layout = self.locate()
        return {"name": path.name, "layout": layout, "files": _signature(path, layout)}

    def _pinned(self, pin: dict[str, Any]) -> tuple[Path, str]:
        layout = str(pin["layout"])
        path = self.path if layout == "directory" or self.path.is_file() else self.path / str(pin["name"])
        if not path.exists() or _signature(path, layout) != [list(f) for f in pin["files"]]:
            # a file replaced, added or removed
            raise PackageError(changed_after_plan(str(pin["name"])))
        return path, layout

    def fetch(self, pin: dict[str, Any] | None = None) -> Fetched:
        path, layout = self._pinned(pin) if pin is not None else self.locate()
        info: dict[str, Any] = {"name": path.name, "layout": layout, "location": str(path)}
        if layout == "zip":
            info.update(size=path.stat().st_size, sha256=sha256_of(path))
        else:
            info["size"] = sum(p.stat().st_size for p in path.iterdir() if p.is_file())
            info["sha256"] = _folder_digest(path)
        return Fetched(path=path, name=path.name, info=info)

    def describe(self) -> dict[str, Any]:
        path, layout = self.locate()
        return {"location": str(self.path), "package": path.name, "layout": layout}


__all__ = ["Fetched", "LocalSource", "sha256_of"]
