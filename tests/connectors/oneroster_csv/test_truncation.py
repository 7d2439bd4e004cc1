"""A stream that ends early marks its entity incomplete, so nothing of it is deactivated."""

from __future__ import annotations

import struct
import zipfile

import pytest

from libs.connectors.errors import PackageError
from libs.connectors.oneroster_csv.connector import WHOLE_PACKAGE
from libs.enums import EntityType
from tests.connectors.oneroster_csv.conftest import ENROLLMENTS, ORGS, USERS, bulk_manifest

E = EntityType


def enrollment_rows(count: int) -> str:
    return "".join(f"e{i},,,c{i % 50},s1,u{i},student,false,2025-08-15,2026-06-10\n" for i in range(count))


def package_files(rows: int = 2000) -> dict[str, str]:
    return {
        "manifest.csv": bulk_manifest("orgs", "users", "enrollments"),
        "orgs.csv": ORGS + "s1,,,North,school,,\n",
        "users.csv": USERS + "u1,,,true,s1,student,,,A,B,,,,,,,,\n",
        "enrollments.csv": ENROLLMENTS + enrollment_rows(rows),
    }


def test_short_last_row_marks_the_entity_incomplete(make_package, read):
    files = package_files(3)
    files["enrollments.csv"] += "e9,,,c1,s1,u"

    result = read(make_package(files))

    outcome = result.extraction.outcomes[E.ENROLLMENT]
    assert not outcome.complete
    assert outcome.message == "enrollments.csv: the last row (line 5) has 6 of 10 values; the file looks cut off"
    assert [(e.code, e.external_id, e.line) for e in result.errors()] == [("wrong_column_count", "e9", 5)]
    assert len(result.records(E.ENROLLMENT)) == 3
    assert result.extraction.outcomes[E.USER].complete


def test_quoted_value_open_at_end_of_file_marks_the_entity_incomplete(make_package, read):
    files = package_files(3)
    files["enrollments.csv"] += 'e9,,,c1,s1,"u9'

    result = read(make_package(files))

    outcome = result.extraction.outcomes[E.ENROLLMENT]
    assert not outcome.complete
    assert outcome.message == "enrollments.csv: the file ends inside a quoted value that starts at line 5"


def _member_data_offset(archive, member: str) -> tuple[int, int]:
    """Where the member's (compressed) bytes start in the archive, and how many there are."""
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo(member)
    data = archive.read_bytes()
    name_len, extra_len = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    return info.header_offset + 30 + name_len + extra_len, info.compress_size


def _zip(path, files: dict[str, str], compression: int) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text, compress_type=compression)


def test_zip_member_failing_its_crc_marks_the_entity_incomplete(tmp_path, read):
    archive = tmp_path / "package.zip"
    _zip(archive, package_files(), zipfile.ZIP_STORED)
    start, size = _member_data_offset(archive, "enrollments.csv")
    data = bytearray(archive.read_bytes())
    # one flipped bit in the middle of the member: the text still parses, only the CRC can tell
    position = data.index(b"student", start + size // 2)
    data[position] = ord("S")
    archive.write_bytes(bytes(data))

    result = read(archive)

    outcome = result.extraction.outcomes[E.ENROLLMENT]
    assert not outcome.complete
    assert outcome.message.startswith("enrollments.csv: reading stopped after line ")
    assert outcome.message.endswith("(the zip member fails its CRC check: the package is corrupt)")
    assert result.extraction.outcomes[E.USER].complete


def test_zip_member_whose_compressed_data_is_cut_marks_the_entity_incomplete(tmp_path, read):
    archive = tmp_path / "package.zip"
    _zip(archive, package_files(), zipfile.ZIP_DEFLATED)
    start, size = _member_data_offset(archive, "enrollments.csv")
    data = bytearray(archive.read_bytes())
    # the second half of the deflate stream lost, as an interrupted copy leaves it
    data[start + size // 2 : start + size] = bytes(size - size // 2)
    archive.write_bytes(bytes(data))

    result = read(archive)

    outcome = result.extraction.outcomes[E.ENROLLMENT]
    assert not outcome.complete
    assert outcome.message.startswith("enrollments.csv: reading stopped after line ")
    # zlib may stop with an error or produce short output that then fails the CRC: either way, corrupt
    assert "the package is truncated or corrupt" in outcome.message or "the package is corrupt" in outcome.message
    assert len(result.records(E.ENROLLMENT)) < 2000


def test_truncated_zip_file_fails_before_any_record(make_package):
    from tests.connectors.oneroster_csv.conftest import connector_for

    archive = make_package(package_files(), as_zip=True)
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size * 2 // 3])
    connector = connector_for(archive)
    step = WHOLE_PACKAGE

    with pytest.raises(PackageError, match=r"is not a complete zip archive"):
        connector.extract(step)


def test_cut_off_courses_file_fails_the_package_rather_than_blank_course_titles(make_package, read):
    from tests.connectors.oneroster_csv.conftest import CLASSES, COURSES

    files = {
        "manifest.csv": bulk_manifest("courses", "classes"),
        "courses.csv": COURSES + "crs1,,,y1,Algebra,ALG,09,d1,Math,\ncrs2,,,y1,Geo",
        "classes.csv": CLASSES + "cls1,,,A,,crs1,,scheduled,,s1,t1,,,\n",
    }

    with pytest.raises(PackageError, match=r"courses.csv: the last row \(line 3\) has 5 of 10 values"):
        read(make_package(files))


def test_small_member_failing_its_crc_is_rejected_before_any_record(tmp_path):
    from tests.connectors.oneroster_csv.conftest import connector_for

    archive = tmp_path / "package.zip"
    _zip(archive, package_files(3), zipfile.ZIP_STORED)
    data = bytearray(archive.read_bytes())
    position = data.index(b"e1,,,c1")
    data[position] = ord("f")
    archive.write_bytes(bytes(data))
    connector = connector_for(archive)
    step = WHOLE_PACKAGE

    # the header read reaches the end of so small a member, and with it the CRC check
    with pytest.raises(PackageError, match=r"enrollments.csv cannot be read \(the zip member fails its CRC check"):
        connector.extract(step)
