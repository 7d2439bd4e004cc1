"""Streaming one CSV file of a package into records, with the physical line of every row.

The hot loop is a plain `csv.reader` over a strict UTF-8 text stream; each row goes to a
`build(row, line)` function that returns a record, a record error, or None (not a roster row).
Whatever breaks the stream (a truncated or corrupt zip member, a quoted value open at end of
file, a short last row) ends the file and is reported through `truncated`, so the caller can mark
the entity incomplete: rows that were never read must not look like rows that left the SIS.
"""

from __future__ import annotations

import csv
import io
import zipfile
import zlib
from collections.abc import Callable, Iterator
from typing import Any

from libs.connectors.errors import PackageError
from libs.connectors.oneroster_csv.columns import SECRET_COLUMNS, Header, normalize_header
from libs.connectors.oneroster_csv.package import Package
from libs.connectors.records import Item, RecordError
from libs.enums import EntityType

Builder = Callable[[list[str], int], Item | None]

# what a zip member that is cut short or corrupt raises while it is being read
_STREAM_ERRORS = (EOFError, zlib.error, zipfile.BadZipFile, OSError)


def _text(binary: Any) -> io.TextIOWrapper:
    # utf-8-sig drops one leading BOM; newline="" lets csv see quoted line breaks and CRLF as they are
    return io.TextIOWrapper(binary, encoding="utf-8-sig", errors="strict", newline="")


def not_utf8(package: Package, real_name: str) -> PackageError:
    """Locate the first undecodable line (slow path, only after decoding failed)."""
    with package.open(real_name) as binary:
        for number, raw_line in enumerate(binary, start=1):
            chunk = raw_line[3:] if number == 1 and raw_line.startswith(b"\xef\xbb\xbf") else raw_line
            try:
                chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad = chunk[exc.start : exc.start + 1].hex().upper()
                return PackageError(
                    f"{real_name}: line {number} is not valid UTF-8 (byte 0x{bad} at position {exc.start + 1}); "
                    "OneRoster files must be saved as UTF-8 (this looks like Windows-1252 or Latin-1)",
                    details={"file": real_name, "line": number},
                )
    return PackageError(f"{real_name} is not valid UTF-8", details={"file": real_name})


def read_header(package: Package, real_name: str) -> Header:
    try:
        with package.open(real_name) as binary, _text(binary) as text:
            first = next(csv.reader(text, strict=True), None)
    except UnicodeDecodeError:
        raise not_utf8(package, real_name) from None
    except csv.Error as exc:
        raise PackageError(f"{real_name}: the header row is not valid CSV ({exc})") from None
    except _STREAM_ERRORS as exc:
        raise PackageError(f"{real_name} cannot be read ({_cause(exc)})") from None
    if first is None or not any(cell.strip() for cell in first):
        size = package.size(real_name)
        what = "0 bytes" if size == 0 else "no header row"
        raise PackageError(f"{real_name} is empty ({what}); a OneRoster file needs at least its header row")
    return Header(file=real_name, names=normalize_header(first))


def _cause(exc: BaseException) -> str:
    if isinstance(exc, zipfile.BadZipFile) and "CRC" in str(exc):
        return "the zip member fails its CRC check: the package is corrupt"
    if isinstance(exc, EOFError | zlib.error):
        return "the compressed data ends early: the package is truncated or corrupt"
    return f"{type(exc).__name__}: {exc}"


class CsvStream:
    """One pass over a file's rows. After iteration, `rows`, `errors` and `truncated` are final."""

    def __init__(self, package: Package, real_name: str, header: Header, entity: EntityType | None) -> None:
        self.package = package
        self.file = real_name
        self.header = header
        self.entity = entity
        self.rows = 0
        self.errors = 0
        self.truncated: str | None = None

    def error(self, row: list[str], line: int, code: str, message: str, field: str | None = None) -> RecordError:
        position = self.header.col("sourcedId")
        external_id = (row[position].strip() or None) if 0 <= position < len(row) else None
        return RecordError(
            entity_type=self.entity,
            code=code,
            message=message,
            external_id=external_id,
            source=self.file,
            line=line,
            field=field,
            raw=raw_row(self.header, row),
        )

    def items(self, build: Builder) -> Iterator[Item]:
        try:
            with self.package.open(self.file) as binary, _text(binary) as text:
                yield from self._items(csv.reader(text, strict=True), build)
        except UnicodeDecodeError:
            raise not_utf8(self.package, self.file) from None

    def _items(self, reader: Any, build: Builder) -> Iterator[Item]:
        width = self.header.width
        short: tuple[int, list[str]] | None = None
        try:
            next(reader)  # the header, already checked
        except (StopIteration, csv.Error):
            return
        prev = reader.line_num
        while True:
            try:
                for row in reader:
                    line = prev + 1
                    prev = reader.line_num
                    if short is not None:
                        # a short row followed by more rows is a bad row, not the end of a cut-off file
                        self.errors += 1
                        yield self._short(*short)
                        short = None
                    if len(row) != width:
                        if not row:
                            continue  # blank line
                        if len(row) < width:
                            short = (line, row)
                            continue
                        if any(cell.strip() for cell in row[width:]):
                            self.rows += 1
                            self.errors += 1
                            yield self.error(
                                row,
                                line,
                                "wrong_column_count",
                                f"the row has {len(row)} values but the header names {width} columns",
                            )
                            continue
                    self.rows += 1
                    item = build(row, line)
                    if item is not None:
                        if type(item) is RecordError:
                            self.errors += 1
                        yield item
                break
            except csv.Error as exc:
                line = prev + 1
                prev = reader.line_num
                if "unexpected end of data" in str(exc):
                    self.truncated = f"{self.file}: the file ends inside a quoted value that starts at line {line}"
                    return
                self.rows += 1
                self.errors += 1
                yield RecordError(
                    entity_type=self.entity,
                    code="csv_syntax",
                    message=f"the row is not valid CSV ({exc})",
                    source=self.file,
                    line=line,
                )
            except _STREAM_ERRORS as exc:
                self.truncated = f"{self.file}: reading stopped after line {prev} ({_cause(exc)})"
                return
        if short is not None:
            line, row = short
            self.truncated = (
                f"{self.file}: the last row (line {line}) has {len(row)} of {width} values; the file looks cut off"
            )
            self.errors += 1
            yield self._short(line, row)

    def _short(self, line: int, row: list[str]) -> RecordError:
        self.rows += 1
        return self.error(
            row,
            line,
            "wrong_column_count",
            f"the row has {len(row)} values but the header names {self.header.width} columns",
        )


def raw_row(header: Header, row: list[str]) -> dict[str, Any]:
    """The row as a dict for error reports, without credential columns."""
    return {
        name: row[position]
        for name, position in header.index.items()
        if position < len(row) and name not in SECRET_COLUMNS
    }


__all__ = ["Builder", "CsvStream", "not_utf8", "raw_row", "read_header"]
