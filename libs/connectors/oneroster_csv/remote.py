"""A package on an SFTP server: a folder with manifest.csv, a folder of zips (newest complete), or one zip.

"Complete" means: not named like a partial upload, not empty, and the same size and time in
two listings `stableSeconds` apart. The chosen package is streamed to a temporary folder (never
held in memory) with its sha256, and the run records which package it applied.
"""

from __future__ import annotations

import hashlib
import posixpath
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from libs.connectors.egress import STRICT, EgressPolicy
from libs.connectors.errors import NotFoundError, PackageError
from libs.connectors.oneroster_csv.config import OneRosterCsvConfig
from libs.connectors.oneroster_csv.local import Fetched
from libs.connectors.oneroster_csv.selection import (
    Entry,
    changed_after_plan,
    folder_files,
    is_package_folder,
    looks_partial,
    stable,
    zip_candidates,
)
from libs.connectors.pauses import pause
from libs.connectors.sftp import RemoteEntry, SftpSession, SftpSettings, connect
from libs.connectors.sftp.keys import KeyFolder


@dataclass
class Choice:
    layout: str  # "directory" or "zip"
    folder: str
    files: list[Entry]
    # newer zips passed over because they were still being written
    passed_over: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.files[0].name if self.layout == "zip" else posixpath.basename(self.folder.rstrip("/")) or "/"


def _entries(remote: list[RemoteEntry]) -> list[Entry]:
    return [Entry(e.name, e.size, e.mtime, e.is_dir) for e in remote]


class SftpSource:
    def __init__(
        self,
        config: OneRosterCsvConfig,
        *,
        work_dir: Path,
        egress: EgressPolicy = STRICT,
        key_folder: KeyFolder | None = None,
        deadline: float | None = None,
        sleep: Callable[[float], None] = pause,
    ) -> None:
        assert config.sftp is not None
        assert config.remote_path is not None
        self.sftp: SftpSettings = config.sftp
        self.remote_path = config.remote_path
        self.pattern = config.file_pattern
        self.stable_seconds = config.stable_seconds
        self.work_dir = work_dir
        self.egress = egress
        self.key_folder = key_folder
        # a connection test's end (time.monotonic()); None in a run
        self.deadline = deadline
        self._sleep = sleep

    def _connect(self) -> AbstractContextManager[SftpSession]:
        return connect(self.sftp, egress=self.egress, key_folder=self.key_folder, deadline=self.deadline)

    def _wait_stable(self) -> None:
        # a connection test waits what fits in half its time left, leaving the rest for the second look
        left = (self.deadline - time.monotonic()) / 2 if self.deadline is not None else self.stable_seconds
        self._sleep(max(0.0, min(self.stable_seconds, left)))

    def _relist(self, session: SftpSession, folder: str) -> list[Entry]:
        self._wait_stable()
        return _entries(session.list(folder))

    def choose(self, session: SftpSession) -> Choice:
        remote = self.remote_path
        top = session.stat(remote)
        if not top.is_dir:
            folder = posixpath.dirname(remote.rstrip("/")) or "/"
            first = [Entry(top.name, top.size, top.mtime)]
            if top.size == 0:
                raise PackageError(f"{remote} is empty (0 bytes)")
            self._wait_stable()
            again = session.stat(remote)
            if not stable(first, [Entry(again.name, again.size, again.mtime)]):
                raise PackageError(self._growing(remote))
            return Choice("zip", folder, first)

        entries = _entries(session.list(remote))
        if is_package_folder(entries):
            files = folder_files(entries)
            partial = sorted(e.name for e in entries if looks_partial(e.name) and ".csv" in e.name.lower())
            if partial:
                raise PackageError(f"{remote} is still being uploaded ({', '.join(partial)} present)")
            same = stable(files, self._relist(session, remote))
            changing = [f.name for f in files if f.name not in same]
            if changing:
                raise PackageError(self._growing(posixpath.join(remote, changing[0])))
            return Choice("directory", remote, files)

        candidates = zip_candidates(entries, self.pattern)
        if not candidates:
            found = ", ".join(sorted(e.name for e in entries)[:20]) or "nothing"
            raise NotFoundError(
                f"{remote} on {self.sftp.host} has no manifest.csv and no file matching '{self.pattern}' "
                f"(found: {found})"
            )
        same = stable(candidates, self._relist(session, remote))
        for index, candidate in enumerate(candidates):
            if candidate.name in same:
                return Choice("zip", remote, [candidate], [c.name for c in candidates[:index]])
        raise PackageError(self._growing(posixpath.join(remote, candidates[0].name)))

    def _growing(self, path: str) -> str:
        return (
            f"{path} is still being written (its size or time changed within {self.stable_seconds:g} s); "
            "a later run will take it"
        )

    def pin(self) -> dict[str, Any]:
        """Choose the package now (the stability check included) and describe it for `fetch`."""
        with self._connect() as session:
            choice = self.choose(session)
        return {
            "name": choice.name,
            "layout": choice.layout,
            "folder": choice.folder,
            "files": [[e.name, e.size, e.mtime] for e in choice.files],
            "passed_over": choice.passed_over,
        }

    def _pinned(self, session: SftpSession, pin: dict[str, Any]) -> Choice:
        """The pinned package, if every file still has the size and time it had when chosen."""
        folder = str(pin["folder"])
        files = [Entry(str(name), int(size), float(mtime)) for name, size, mtime in pin["files"]]
        for entry in files:
            path = posixpath.join(folder, entry.name)
            try:
                now = session.stat(path)
            except NotFoundError:
                now = None
            if now is None or (now.size, now.mtime) != (entry.size, entry.mtime):
                raise PackageError(changed_after_plan(path))
        return Choice(str(pin["layout"]), folder, files, [str(n) for n in pin.get("passed_over") or []])

    def fetch(self, pin: dict[str, Any] | None = None) -> Fetched:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        with self._connect() as session:
            choice = self._pinned(session, pin) if pin is not None else self.choose(session)
            target = Path(tempfile.mkdtemp(prefix="sis-sync-sftp-", dir=self.work_dir))
            try:
                info = self._download(session, choice, target)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
        path = target / choice.name if choice.layout == "zip" else target
        return Fetched(path=path, name=choice.name, info=info, temporary=[target])

    def _download(self, session: SftpSession, choice: Choice, target: Path) -> dict[str, Any]:
        digests: list[str] = []
        size = 0
        seconds = 0.0
        for entry in choice.files:
            remote = posixpath.join(choice.folder, entry.name)
            done = session.download(remote, target / entry.name, size=entry.size)
            after = session.stat(remote)
            if done.size != entry.size or (after.size, after.mtime) != (entry.size, entry.mtime):
                raise PackageError(f"{remote} changed while it was being downloaded; a later run will take it")
            digests.append(f"{entry.name}\0{done.sha256}")
            size += done.size
            seconds += done.seconds
        if choice.layout == "zip":
            sha256 = digests[0].split("\0", 1)[1]
        else:
            # a folder has no single digest: hash the list of its files' names and digests
            sha256 = hashlib.sha256("\n".join(sorted(digests)).encode()).hexdigest()
        newest = max(e.mtime for e in choice.files)
        info: dict[str, Any] = {
            "name": choice.name,
            "layout": choice.layout,
            "location": f"sftp://{self.sftp.host}:{self.sftp.port}{posixpath.join(choice.folder, choice.name)}",
            "size": size,
            "sha256": sha256,
            "modified_at": datetime.fromtimestamp(newest, tz=UTC).isoformat(),
            "download_seconds": round(seconds, 3),
            "download_mb_per_s": round(size / 1e6 / seconds, 1) if seconds > 0 else None,
            "host_key_type": session.host_key_type,
        }
        if choice.passed_over:
            info["passed_over"] = choice.passed_over
        return info

    def describe(self) -> dict[str, Any]:
        with self._connect() as session:
            listing = session.list(self.remote_path) if session.stat(self.remote_path).is_dir else []
            choice = self.choose(session)
            return {
                "server": self.sftp.redacted(),
                "host_key_type": session.host_key_type,
                "location": self.remote_path,
                "listing": sorted(e.name for e in listing)[:50],
                "package": choice.name,
                "layout": choice.layout,
                "size": sum(e.size for e in choice.files),
                "passed_over": choice.passed_over,
            }


__all__ = ["Choice", "SftpSource"]
