"""The plan of a CSV run: two CPU-bound steps over one pinned package.

Both steps must read the same export, and between them exactly what one pass over the package
reads; a package that changes between the plan and a step stops the run instead of mixing two
exports.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from libs.connectors.errors import PackageError
from libs.connectors.oneroster_csv.connector import ENROLLMENTS_STEP, PACKAGE_STEP, PIN_PARAM, WHOLE_PACKAGE
from libs.connectors.records import Record
from libs.enums import EntityType as E
from tests.connectors.oneroster_csv.conftest import (
    CLASSES,
    COURSES,
    ENROLLMENTS,
    ORGS,
    USERS,
    bulk_manifest,
    connector_for,
)


def _files() -> dict[str, str]:
    return {
        "manifest.csv": bulk_manifest("orgs", "courses", "classes", "users", "enrollments"),
        "orgs.csv": ORGS + "d1,,,District,district,,\ns1,,,North,school,,d1\n",
        "courses.csv": COURSES + "crs1,,,y1,Algebra,ALG,09,d1,Math,\n",
        "classes.csv": CLASSES + "c1,,,Algebra 1,,crs1,,scheduled,,s1,t1,,,\n",
        "users.csv": USERS + "u1,,,true,s1,student,,,A,B,,,,,,,,\nu2,,,true,s1,teacher,,,C,D,,,,,,,,\n",
        "enrollments.csv": ENROLLMENTS
        + "e1,,,c1,s1,u1,student,false,2025-08-15,2026-06-10\n"
        + "e2,,,c1,s1,u2,teacher,true,,\n"
        + "e3,,,c1,s1,u3,pilot,false,,\n",  # an unknown role: a row error of the enrollments step
        "extra.csv": "a,b\n1,2\n",  # not in the manifest: a package warning
    }


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (folder / name).write_text(content)
    return folder


def _summary(items) -> Counter:
    return Counter(
        (type(i).__name__, i.entity_type, i.external_id, getattr(i, "code", None), getattr(i, "line", None))
        for i in items
    )


def test_plan_is_two_cpu_bound_steps_pinned_to_the_chosen_package(tmp_path):
    connector = connector_for(_write(tmp_path / "pkg", _files()))

    package, enrollments = connector.plan()

    assert (package.name, package.entity_types) == (PACKAGE_STEP, (E.SCHOOL, E.TERM, E.CLASS, E.USER))
    assert (enrollments.name, enrollments.entity_types) == (ENROLLMENTS_STEP, (E.ENROLLMENT,))
    assert package.cpu_bound
    assert enrollments.cpu_bound
    assert package.params == enrollments.params
    pin = json.loads(package.params[PIN_PARAM])
    assert (pin["name"], pin["layout"]) == ("pkg", "directory")
    assert [name for name, _, _ in pin["files"]] == sorted(n for n in _files() if n.endswith(".csv"))


def test_the_two_steps_read_exactly_what_one_pass_reads(tmp_path):
    path = _write(tmp_path / "pkg", _files())
    connector = connector_for(path)
    package, enrollments = connector.plan()

    whole = connector.extract(WHOLE_PACKAGE)
    whole_items = list(whole)
    first = connector.extract(package)
    first_items = list(first)
    second = connector.extract(enrollments)
    second_items = list(second)

    assert _summary(first_items) + _summary(second_items) == _summary(whole_items)
    assert {i.entity_type for i in second_items} == {E.ENROLLMENT}
    assert ("RecordError", E.ENROLLMENT, "e3", "unknown_role", 4) in _summary(second_items)
    assert E.ENROLLMENT not in {i.entity_type for i in first_items if isinstance(i, Record)}
    # each warning once, from the step of schools and users; each step lists the files it read
    assert whole.warnings == first.warnings
    assert any("extra.csv" in w for w in first.warnings)
    assert second.source["warnings"] == []
    assert sorted(second.source["files"]) == ["enrollments.csv"]
    assert second.source["files"]["enrollments.csv"]["rows"] == 3
    assert "enrollments.csv" not in first.source["files"]
    assert set(first.outcomes) == {E.SCHOOL, E.TERM, E.CLASS, E.USER}
    assert set(second.outcomes) == {E.ENROLLMENT}


def test_a_newer_zip_arriving_after_the_plan_is_left_for_the_next_run(make_package, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    first = make_package(
        {"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS + "old,,,Old,school,,\n"}, as_zip=True
    )
    (drop / "roster-1.zip").write_bytes(first.read_bytes())
    os.utime(drop / "roster-1.zip", (1_000_000, 1_000_000))
    connector = connector_for(drop)
    package, _enrollments = connector.plan()
    later = make_package(
        {"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS + "new,,,New,school,,\n"}, as_zip=True
    )
    (drop / "roster-2.zip").write_bytes(later.read_bytes())
    os.utime(drop / "roster-2.zip", (2_000_000, 2_000_000))

    extraction = connector.extract(package)

    assert [r.external_id for r in extraction] == ["old"]
    assert extraction.source["package"]["name"] == "roster-1.zip"
    # an unpinned read (a connection test) takes the newest
    assert connector.extract(WHOLE_PACKAGE).source["package"]["name"] == "roster-2.zip"


@pytest.mark.parametrize("change", ["rewritten", "added", "removed"])
def test_a_package_folder_that_changes_after_the_plan_stops_the_step(tmp_path, change):
    path = _write(tmp_path / "pkg", _files())
    connector = connector_for(path)
    _, enrollments = connector.plan()
    if change == "rewritten":
        (path / "enrollments.csv").write_text(_files()["enrollments.csv"] + "e4,,,c1,s1,u1,student,false,,\n")
    elif change == "added":
        (path / "academicSessions.csv").write_text("sourcedId\n")
    else:
        (path / "extra.csv").unlink()

    with pytest.raises(PackageError, match=r"pkg changed after this run chose it") as caught:
        connector.extract(enrollments)

    assert not caught.value.retriable
    assert "a later run will take the new one" in caught.value.message


def test_a_pinned_zip_rewritten_in_place_stops_the_step(make_package, tmp_path):
    archive = make_package(
        {"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS + "s1,,,North,school,,\n"}, as_zip=True
    )
    connector = connector_for(archive)
    package, _ = connector.plan()
    os.utime(archive, (3_000_000, 3_000_000))

    with pytest.raises(PackageError, match=r"changed after this run chose it"):
        connector.extract(package)
