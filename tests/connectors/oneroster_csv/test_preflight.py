"""A broken package fails before its first record, with a message that names the file and the cause."""

from __future__ import annotations

import pytest

from libs.connectors.errors import PackageError
from libs.connectors.oneroster_csv.connector import WHOLE_PACKAGE
from tests.connectors.oneroster_csv.conftest import ENROLLMENTS, ORGS, USERS, bulk_manifest, connector_for, manifest


def extract(path):
    connector = connector_for(path)
    step = WHOLE_PACKAGE
    return connector.extract(step)


def test_misspelled_required_header_names_file_column_and_what_was_found(make_package):
    header = USERS.replace("sourcedId", "sourcedld", 1)
    path = make_package(
        {"manifest.csv": bulk_manifest("users"), "users.csv": header + "u1,,,true,s1,student,,,A,B,,,,,,,,\n"}
    )

    with pytest.raises(PackageError) as caught:
        extract(path)

    assert caught.value.message == "users.csv: required column 'sourcedId' is missing (found 'sourcedld')"


def test_header_differing_only_in_case_is_reported_as_such(make_package):
    path = make_package({"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS.replace("sourcedId", "SourcedID")})

    with pytest.raises(
        PackageError, match=r"'sourcedId' is missing \(found 'SourcedID'; header names are case-sensitive\)"
    ):
        extract(path)


def test_byte_order_mark_inside_the_header_line_is_named_as_an_invisible_character(make_package):
    # a second BOM in mid-line (files glued together) is not the file's encoding signature
    header = "name,\ufefftype,sourcedId\n"
    path = make_package({"manifest.csv": bulk_manifest("orgs"), "orgs.csv": header + "North,school,s1\n"})

    with pytest.raises(PackageError) as caught:
        extract(path)

    assert caught.value.message == (
        "orgs.csv: required column 'type' is missing (found '\\ufefftype', which contains invisible characters)"
    )


def test_leading_byte_order_marks_on_the_first_header_are_tolerated(make_package, read):
    for prefix in ("\ufeff", "\ufeff\ufeff", '"\ufeff'):
        header = prefix + ("sourcedId" + ('"' if prefix.startswith('"') else "")) + ORGS[len("sourcedId") :]
        result = read(
            make_package({"manifest.csv": bulk_manifest("orgs"), "orgs.csv": header + "s1,,,North,school,,\n"})
        )
        assert [r.external_id for r in result.records()] == ["s1"], prefix


def test_misspelled_optional_column_fails_rather_than_silently_dropping_its_data(make_package):
    header = USERS.replace("email", "emial")
    path = make_package({"manifest.csv": bulk_manifest("users"), "users.csv": header})

    with pytest.raises(PackageError, match=r"users.csv: column 'email' is missing \(found 'emial'\)"):
        extract(path)


def test_several_missing_columns_are_reported_together(make_package):
    path = make_package({"manifest.csv": bulk_manifest("enrollments"), "enrollments.csv": "sourcedId,role\n"})

    with pytest.raises(PackageError) as caught:
        extract(path)

    message = caught.value.message
    assert message.startswith("enrollments.csv: required column 'classSourcedId' is missing")
    assert "'userSourcedId'" in message
    assert "'schoolSourcedId'" in message


def test_delta_file_needs_a_status_column(make_package):
    header = "sourcedId,name,type\n"
    path = make_package({"manifest.csv": manifest(orgs="delta"), "orgs.csv": header})

    with pytest.raises(PackageError, match=r"orgs.csv: required column 'status' is missing"):
        extract(path)


def test_missing_manifest_fails(make_package):
    path = make_package({"orgs.csv": ORGS})

    with pytest.raises(PackageError, match=r"has no manifest.csv.*files found: orgs.csv"):
        extract(path)


def test_file_declared_bulk_but_missing_fails(make_package):
    path = make_package({"manifest.csv": bulk_manifest("orgs", "users"), "orgs.csv": ORGS})

    with pytest.raises(PackageError, match=r"manifest.csv declares users.csv as bulk, but .* has no users.csv"):
        extract(path)


def test_unknown_manifest_mode_fails(make_package):
    path = make_package({"manifest.csv": manifest(orgs="full"), "orgs.csv": ORGS})

    with pytest.raises(PackageError, match=r"manifest.csv: file.orgs is 'full'; expected absent, bulk or delta"):
        extract(path)


def test_empty_file_fails_naming_it(make_package):
    path = make_package({"manifest.csv": bulk_manifest("enrollments"), "enrollments.csv": ""})

    with pytest.raises(PackageError, match=r"enrollments.csv is empty \(0 bytes\)"):
        extract(path)


def test_non_utf8_bytes_fail_naming_file_and_line(make_package):
    body = ENROLLMENTS.encode() + b"e1,,,c1,s1,u1,student,,,\n" + "e2,,,c1,s1,Jos\u00e9,student,,,\n".encode("cp1252")
    path = make_package({"manifest.csv": bulk_manifest("enrollments"), "enrollments.csv": body})

    with pytest.raises(PackageError) as caught:
        list(extract(path))

    assert caught.value.message.startswith("enrollments.csv: line 3 is not valid UTF-8 (byte 0xE9 at position 15)")


def test_non_utf8_bytes_far_into_a_file_are_found_while_streaming(make_package):
    rows = "".join(f"e{i},,,c1,s1,u{i},student,,,\n" for i in range(5000))
    body = (ENROLLMENTS + rows).encode() + b"bad,,,c1,s1,\xff,student,,,\n"
    path = make_package({"manifest.csv": bulk_manifest("enrollments"), "enrollments.csv": body})
    extraction = extract(path)

    with pytest.raises(PackageError, match=r"enrollments.csv: line 5002 is not valid UTF-8"):
        list(extraction)


def test_undeclared_and_declared_absent_files_are_not_read_but_mentioned(make_package, read):
    path = make_package(
        {
            "manifest.csv": manifest(orgs="bulk", users="absent"),
            "orgs.csv": ORGS + "s1,,,North,school,,\n",
            "users.csv": USERS + "u1,,,true,s1,student,,,A,B,,,,,,,,\n",
            "extra.csv": "a,b\n",
        }
    )

    result = read(path)

    assert [r.external_id for r in result.records()] == ["s1"]
    warnings = result.extraction.warnings
    assert "users.csv is in the package but manifest.csv declares it absent; it is not read" in warnings
    assert "extra.csv is not declared in manifest.csv; it is not read" in warnings


def test_quoted_manifest_with_crlf_and_version_1_is_accepted(make_package, read):
    text = '"propertyName","value"\r\n"manifest.version","1"\r\n"oneroster.version","1.1"\r\n"file.orgs","BULK"'
    result = read(make_package({"manifest.csv": text, "orgs.csv": ORGS + "s1,,,North,school,,\n"}))

    assert [r.external_id for r in result.records()] == ["s1"]
