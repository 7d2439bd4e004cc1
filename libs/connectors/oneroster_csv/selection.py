"""Which package a folder holds: its own CSV files (it has a manifest.csv), or the newest complete zip.

Pure functions over a listing, shared by the local and the SFTP source. A file still being
uploaded must never be taken: names that uploaders use for partial files are skipped, and the
caller compares two listings taken a moment apart (`stable`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass

# suffixes uploaders and sync tools give a file until it is complete
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".temp", ".filepart", ".crdownload", ".uploading", ".lock")


@dataclass(frozen=True)
class Entry:
    name: str
    size: int
    mtime: float
    is_dir: bool = False


def looks_partial(name: str) -> bool:
    lowered = name.lower()
    # rsync and many SFTP clients write to a hidden name first and rename when done
    return lowered.startswith(".") or lowered.endswith(PARTIAL_SUFFIXES)


def is_package_folder(entries: Iterable[Entry]) -> bool:
    return any(e.name.lower() == "manifest.csv" and not e.is_dir for e in entries)


def folder_files(entries: Iterable[Entry]) -> list[Entry]:
    """The CSV files of a package folder."""
    return sorted((e for e in entries if not e.is_dir and e.name.lower().endswith(".csv")), key=lambda e: e.name)


def zip_candidates(entries: Iterable[Entry], pattern: str) -> list[Entry]:
    """Zips matching the pattern, newest first; partial names and empty files are not candidates."""
    lowered = pattern.lower()
    found = [
        e
        for e in entries
        if not e.is_dir and e.size > 0 and not looks_partial(e.name) and fnmatch.fnmatchcase(e.name.lower(), lowered)
    ]
    return sorted(found, key=lambda e: (e.mtime, e.name), reverse=True)


def changed_after_plan(what: str) -> str:
    """The message for a pinned package that no longer is what the run's plan chose."""
    return (
        f"{what} changed after this run chose it; the run stops rather than mix two packages, "
        "and a later run will take the new one"
    )


def stable(before: Iterable[Entry], after: Iterable[Entry]) -> set[str]:
    """Names whose size and modification time did not change between the two listings."""
    first = {e.name: (e.size, e.mtime) for e in before}
    return {e.name for e in after if first.get(e.name) == (e.size, e.mtime)}


__all__ = [
    "PARTIAL_SUFFIXES",
    "Entry",
    "changed_after_plan",
    "folder_files",
    "is_package_folder",
    "looks_partial",
    "stable",
    "zip_candidates",
]
