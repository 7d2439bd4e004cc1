"""The OneRoster 1.1 CSV package: exact headers, parseable rows, deterministic bytes."""

from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from pathlib import Path

import pytest

from devkit.generator import District, DistrictSpec, write_oneroster_csv
from libs.enums import EntityType
from tests.generator.diffing import Snapshot

# the OneRoster 1.1 CSV binding's headers, written out here rather than imported
SPEC_HEADERS = {
    "orgs.csv": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions.csv": "sourcedId,status,dateLastModified,title,type,startDate,endDate,parentSourcedId,schoolYear",
    "courses.csv": (
        "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,orgSourcedId,subjects,subjectCodes"
    ),
    "classes.csv": (
        "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,classType,location,schoolSourcedId,"
        "termSourcedIds,subjects,subjectCodes,periods"
    ),
    "users.csv": (
        "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,userIds,givenName,familyName,"
        "middleName,identifier,email,sms,phone,agentSourcedIds,grades,password"
    ),
    "enrollments.csv": (
        "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,userSourcedId,role,primary,beginDate,endDate"
    ),
}
DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


@pytest.fixture(scope="module")
def package(small: District, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_oneroster_csv(small, tmp_path_factory.mktemp("bulk"))


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def digest(path: Path) -> dict[str, str]:
    files = sorted(path.iterdir()) if path.is_dir() else [path]
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


def test_headers_are_exactly_the_oneroster_1_1_ones(package: Path) -> None:
    for name, header in SPEC_HEADERS.items():
        with (package / name).open(encoding="utf-8", newline="") as handle:
            assert handle.readline().rstrip("\r\n") == header


def test_manifest_declares_a_bulk_1_1_package_of_the_files_present(package: Path) -> None:
    manifest = {row["propertyName"]: row["value"] for row in read(package / "manifest.csv")}
    assert manifest["oneroster.version"] == "1.1"
    assert manifest["manifest.version"] == "1.0"
    for name in SPEC_HEADERS:
        assert manifest[f"file.{name.removesuffix('.csv')}"] == "bulk"
    assert manifest["file.demographics"] == manifest["file.lineItems"] == "absent"
    listed = {key.removeprefix("file.") + ".csv" for key, value in manifest.items() if value == "bulk"}
    assert listed | {"manifest.csv"} == {p.name for p in package.iterdir()}


def test_rows_reparse_to_the_district_records(package: Path, small: District, small_records: Snapshot) -> None:
    counts = small.counts()
    orgs = read(package / "orgs.csv")
    assert [row["type"] for row in orgs].count("district") == 1
    assert sum(row["type"] == "school" for row in orgs) == counts[EntityType.SCHOOL]
    users = read(package / "users.csv")
    enrollments = read(package / "enrollments.csv")
    classes = read(package / "classes.csv")
    assert len(users) == counts[EntityType.USER]
    assert len(enrollments) == counts[EntityType.ENROLLMENT]
    assert len(classes) == counts[EntityType.CLASS]
    assert len(read(package / "academicSessions.csv")) == counts[EntityType.TERM]
    for row in users:
        record = small_records[EntityType.USER][row["sourcedId"]]
        assert (row["givenName"], row["familyName"], row["middleName"] or None) == (
            record.given_name,
            record.family_name,
            record.middle_name,
        )
        assert row["orgSourcedIds"].split(",") == list(record.school_external_ids)
        assert row["email"] == (record.email or "")
        # bulk files leave status and dateLastModified blank
        assert row["status"] == row["dateLastModified"] == ""
    course_ids = {row["sourcedId"] for row in read(package / "courses.csv")}
    assert {row["courseSourcedId"] for row in classes} <= course_ids
    for row in enrollments:
        assert DATE.fullmatch(row["beginDate"])
        assert DATE.fullmatch(row["endDate"])
        assert row["primary"] in ("true", "false")


def test_multi_value_fields_are_quoted_lists(package: Path) -> None:
    text = (package / "classes.csv").read_text(encoding="utf-8")
    assert re.search(r',"trm-\d{4}-s1,trm-\d{4}-s2",', text)
    users = (package / "users.csv").read_text(encoding="utf-8")
    assert re.search(r',"sch-\d{5},sch-\d{5}",student,', users)


def test_unicode_names_survive_the_round_trip(package: Path) -> None:
    names = {row["familyName"] for row in read(package / "users.csv")}
    assert {"Nguyễn", "O'Brien", "王", "김"} & names
    assert any("-" in name for name in names)


def test_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    spec = DistrictSpec(students=400, teachers=30, schools=5, seed=11)
    first = write_oneroster_csv(District(spec), tmp_path / "a")
    second = write_oneroster_csv(District(spec), tmp_path / "b")
    other = write_oneroster_csv(District(spec.with_seed(12)), tmp_path / "c")
    assert digest(first) == digest(second)
    assert digest(first)["users.csv"] != digest(other)["users.csv"]
    zipped = write_oneroster_csv(District(spec), tmp_path / "a.zip", zip=True)
    again = write_oneroster_csv(District(spec), tmp_path / "b", zip=True)
    assert again == tmp_path / "b" / "oneroster.zip"
    assert zipped.read_bytes() == again.read_bytes()


def test_zip_package_holds_the_same_files_at_its_root(tmp_path: Path) -> None:
    district = District(DistrictSpec(students=400, teachers=30, schools=5, seed=11))
    folder = write_oneroster_csv(district, tmp_path / "dir")
    archive = write_oneroster_csv(district, tmp_path / "pkg.zip", zip=True)
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        assert sorted(zf.namelist()) == sorted(p.name for p in folder.iterdir())
        for name in zf.namelist():
            assert zf.read(name) == (folder / name).read_bytes()


def test_an_emptied_enrollments_file_has_its_header_only(small: District, tmp_path: Path) -> None:
    package = write_oneroster_csv(small.with_empty("enrollments"), tmp_path)
    assert (package / "enrollments.csv").read_bytes() == SPEC_HEADERS["enrollments.csv"].encode() + b"\r\n"
    assert len(read(package / "users.csv")) == small.counts()[EntityType.USER]


def test_delta_package_lists_exactly_the_changes(small: District, churned: District, tmp_path: Path) -> None:
    package = write_oneroster_csv(churned, tmp_path, delta_from=small)
    manifest = {row["propertyName"]: row["value"] for row in read(package / "manifest.csv")}
    assert manifest["file.users"] == manifest["file.enrollments"] == "delta"
    report = churned.churn
    for name, entity in (
        ("users.csv", EntityType.USER),
        ("classes.csv", EntityType.CLASS),
        ("enrollments.csv", EntityType.ENROLLMENT),
    ):
        rows = read(package / name)
        statuses = [row["status"] for row in rows]
        assert statuses.count("tobedeleted") == report[entity].dropped
        assert statuses.count("active") == report[entity].added + report[entity].updated
        assert all(TIMESTAMP.fullmatch(row["dateLastModified"]) for row in rows)
    assert read(package / "orgs.csv") == []


def test_delta_needs_an_ancestor(small: District, tmp_path: Path) -> None:
    other = District(DistrictSpec(students=400, teachers=30, schools=5, seed=11))
    with pytest.raises(ValueError, match="derived from"):
        write_oneroster_csv(small, tmp_path, delta_from=other)


def test_csv_text_uses_crlf_and_utf8_without_bom(package: Path) -> None:
    raw = (package / "users.csv").read_bytes()
    assert not raw.startswith(b"\xef\xbb\xbf")
    assert raw.split(b"\n", 1)[0].endswith(b"\r")
    io.StringIO(raw.decode("utf-8"))
