"""A OneRoster CSV package on disk: a folder of CSV files or a zip of them, read member by member.

Members are opened as binary streams (zip members decompress and verify their CRC as they are
read); nothing is extracted to disk and no file is read whole.

A zip is refused before any member is read when its directory says it would expand past
CSV_MAX_UNCOMPRESSED_BYTES or more than MAX_RATIO times its own size (a zip bomb: 1 MB of
blank lines that would keep a run parsing for minutes). The directory cannot understate what
reading produces: zipfile stops each member at its declared size and then checks its CRC.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from libs.connectors.errors import NotFoundError, PackageError

_BUFFER = 1 << 20
MAX_RATIO = 100


class Package:
    """Case-insensitive access to the files of a package (`userprofiles.csv` is `userProfiles.csv`)."""

    def __init__(self, path: Path, *, display_name: str | None = None, max_bytes: int | None = None) -> None:
        self.path = path
        self.name = display_name or path.name
        self.max_bytes = max_bytes
        self.warnings: list[str] = []
        self._zip: zipfile.ZipFile | None = None
        self._prefix = ""
        if path.is_dir():
            self.kind = "directory"
            self._members = {p.name: p.stat().st_size for p in path.iterdir() if p.is_file()}
        elif path.is_file():
            self.kind = "zip"
            self._members = self._open_zip(path)
        else:
            raise NotFoundError(f"{path} does not exist")
        self._by_lower = {name.lower(): name for name in self._members}

    def _open_zip(self, path: Path) -> dict[str, int]:
        try:
            self._zip = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise PackageError(
                f"{self.name} is not a complete zip archive (truncated, still being written, or not a zip)"
            ) from None
        except OSError as exc:
            raise PackageError(f"{self.name} cannot be read ({exc.strerror or type(exc).__name__})") from None
        infos = [info for info in self._zip.infolist() if not info.is_dir()]
        try:
            self._check_expansion(sum(info.file_size for info in infos), path.stat().st_size)
        except PackageError:
            self.close()
            raise
        roots = {info.filename for info in infos if "/" not in info.filename}
        if "manifest.csv" not in {n.lower() for n in roots}:
            # a common export mistake is zipping the folder instead of its files: accept one folder level
            nested = [info.filename for info in infos if info.filename.lower().endswith("/manifest.csv")]
            folders = {n.rsplit("/", 1)[0] for n in nested if n.count("/") == 1}
            if len(folders) == 1:
                self._prefix = folders.pop() + "/"
                self.warnings.append(
                    f"{self.name}: the files are inside the folder '{self._prefix[:-1]}' rather than at the zip root"
                )
        prefix = self._prefix
        return {
            info.filename[len(prefix) :]: info.file_size
            for info in infos
            if info.filename.startswith(prefix) and "/" not in info.filename[len(prefix) :]
        }

    def _check_expansion(self, declared: int, archive: int) -> None:
        if self.max_bytes is not None and declared > self.max_bytes:
            raise PackageError(
                f"{self.name} would expand to {_size(declared)}, more than CSV_MAX_UNCOMPRESSED_BYTES "
                f"({_size(self.max_bytes)}); the package was not read"
            )
        if declared > MAX_RATIO * max(archive, 1):
            raise PackageError(
                f"{self.name} would expand to {_size(declared)}, {declared // max(archive, 1)} times its "
                f"{_size(archive)}; a zip expanding more than {MAX_RATIO} times is refused as a likely zip bomb"
            )

    def files(self) -> dict[str, int]:
        """Member name -> uncompressed size in bytes."""
        return dict(self._members)

    def find(self, name: str, *, note_case: bool = True) -> str | None:
        """The member's real name, matching case-insensitively, or None."""
        real = self._by_lower.get(name.lower())
        if note_case and real is not None and real != name:
            message = f"{real} is named with different letter case than the standard {name}"
            if message not in self.warnings:
                self.warnings.append(message)
        return real

    def size(self, real_name: str) -> int:
        return self._members[real_name]

    @contextmanager
    def open(self, real_name: str) -> Iterator[IO[bytes]]:
        if self._zip is not None:
            with self._zip.open(self._prefix + real_name) as member:
                yield member
        else:
            with (self.path / real_name).open("rb", buffering=_BUFFER) as handle:
                yield handle

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None

    def __enter__(self) -> Package:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _size(count: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


__all__ = ["Package"]
