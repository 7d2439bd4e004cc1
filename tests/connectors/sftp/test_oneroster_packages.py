"""ONEROSTER_CSV over a real sshd: the three layouts, unfinished uploads, and broken packages."""

from __future__ import annotations

import hashlib
import os
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from libs.connectors.base import ConnectorContext, FeedMode
from libs.connectors.errors import AuthError, NotFoundError, PackageError
from libs.connectors.oneroster_csv.connector import WHOLE_PACKAGE, OneRosterCsvConnector
from libs.connectors.records import Record, RecordError
from libs.connectors.registry import build_connector
from libs.enums import EntityType, ProviderType
from tests.connectors.oneroster_csv.conftest import ENROLLMENTS, ORGS, USERS, bulk_manifest, manifest
from tests.support.egress import LOCAL

E = EntityType


def roster(school: str = "s1") -> dict[str, str]:
    return {
        "manifest.csv": bulk_manifest("orgs", "users", "enrollments"),
        "orgs.csv": ORGS + f"{school},,,North,school,,\n",
        "users.csv": USERS + f"u1,,,true,{school},student,,,A,B,,,,,,,,\nu2,,,true,{school},teacher,,,C,D,,,,,,,,\n",
        "enrollments.csv": ENROLLMENTS + f"e1,,,c1,{school},u1,student,,,\ne2,,,c1,{school},u2,teacher,true,,\n",
    }


def write_folder(folder: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = folder / name
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        path.chmod(0o644)
    return folder


def write_zip(path: Path, files: dict[str, str | bytes], *, mtime: float | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    path.chmod(0o644)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def connector(sshd, remote: Path, tmp_path: Path, **overrides) -> OneRosterCsvConnector:
    config = {"sftp": sshd.sftp_config(), "remotePath": str(remote), "stableSeconds": 0.3} | overrides
    # the fixture's key file lies in <base>/client_key: base is the tenant's key folder
    folder = sshd.key_path.parent
    context = ConnectorContext(
        provider_id="p", work_dir=tmp_path / "work", tenant_id=folder.name, sftp_key_dir=folder.parent, egress=LOCAL
    )
    built = build_connector(ProviderType.ONEROSTER_CSV, config, context)
    assert isinstance(built, OneRosterCsvConnector)
    return built


def run(sshd, remote: Path, tmp_path: Path, **overrides):
    conn = connector(sshd, remote, tmp_path, **overrides)
    step = WHOLE_PACKAGE
    extraction = conn.extract(step)
    return extraction, list(extraction)


def ids(items, entity: EntityType) -> list[str]:
    return [i.external_id for i in items if isinstance(i, Record) and i.entity_type is entity]


@contextmanager
def growing(path: Path) -> Iterator[None]:
    """Keep appending to the file, as an upload in progress does."""
    stop = threading.Event()

    def append() -> None:
        with path.open("ab") as handle:
            while not stop.wait(0.02):
                handle.write(b"\0" * 512)
                handle.flush()

    writer = threading.Thread(target=append)
    writer.start()
    try:
        yield
    finally:
        stop.set()
        writer.join()


def test_folder_with_manifest_is_downloaded_and_read(sshd, tmp_path):
    folder = write_folder(sshd.folder("plain"), roster())

    extraction, items = run(sshd, folder, tmp_path)

    assert ids(items, E.USER) == ["u1", "u2"]
    assert ids(items, E.ENROLLMENT) == ["e1", "e2"]
    package = extraction.source["package"]
    assert (package["name"], package["layout"]) == ("plain", "directory")
    assert package["size"] == sum(len(v) for v in roster().values())
    assert len(package["sha256"]) == 64


def test_folder_of_zips_takes_the_newest_complete_one(sshd, tmp_path):
    folder = sshd.folder("zips")
    write_zip(folder / "roster-2026-01-01.zip", roster("old"), mtime=1_700_000_000)
    newest = write_zip(folder / "roster-2026-01-02.zip", roster("new"), mtime=1_700_086_400)
    write_zip(folder / "roster-2026-01-03.zip.part", roster("partial"))
    (folder / "notes.txt").write_text("not a package")
    (folder / "notes.txt").chmod(0o644)

    extraction, items = run(sshd, folder, tmp_path)

    assert ids(items, E.SCHOOL) == ["new"]
    package = extraction.source["package"]
    assert package["name"] == "roster-2026-01-02.zip"
    assert package["size"] == newest.stat().st_size
    assert package["sha256"] == hashlib.sha256(newest.read_bytes()).hexdigest()
    assert package["location"] == f"sftp://127.0.0.1:{sshd.port}{newest}"


def test_file_pattern_selects_which_zips_are_packages(sshd, tmp_path):
    folder = sshd.folder("pattern")
    write_zip(folder / "oneroster_1.zip", roster("wanted"), mtime=1_700_000_000)
    write_zip(folder / "backup.zip", roster("other"), mtime=1_700_086_400)

    _, items = run(sshd, folder, tmp_path, filePattern="oneroster_*.zip")

    assert ids(items, E.SCHOOL) == ["wanted"]


def test_remote_path_may_name_one_zip(sshd, tmp_path):
    archive = write_zip(sshd.folder("single") / "export.zip", roster())

    extraction, items = run(sshd, archive, tmp_path)

    assert ids(items, E.USER) == ["u1", "u2"]
    assert extraction.source["package"]["name"] == "export.zip"


def test_zip_still_growing_is_passed_over_for_the_newest_complete_one(sshd, tmp_path):
    folder = sshd.folder("uploading")
    write_zip(folder / "a.zip", roster("complete"), mtime=1_700_000_000)
    uploading = write_zip(folder / "b.zip", roster("uploading"))

    with growing(uploading):
        extraction, items = run(sshd, folder, tmp_path)

    assert ids(items, E.SCHOOL) == ["complete"]
    assert extraction.source["package"]["passed_over"] == ["b.zip"]


def test_single_zip_still_growing_is_not_taken(sshd, tmp_path):
    archive = write_zip(sshd.folder("single-uploading") / "export.zip", roster())
    conn = connector(sshd, archive, tmp_path)
    step = WHOLE_PACKAGE

    with growing(archive), pytest.raises(PackageError, match=r"export.zip is still being written"):
        conn.extract(step)


def test_folder_whose_csv_is_still_growing_is_not_taken(sshd, tmp_path):
    folder = write_folder(sshd.folder("folder-uploading"), roster())
    conn = connector(sshd, folder, tmp_path)
    step = WHOLE_PACKAGE

    with growing(folder / "enrollments.csv"), pytest.raises(PackageError, match=r"enrollments.csv is still being"):
        conn.extract(step)


def test_folder_with_a_partial_upload_name_is_not_taken(sshd, tmp_path):
    folder = write_folder(sshd.folder("folder-part"), roster() | {"users.csv.part": "x"})
    conn = connector(sshd, folder, tmp_path)
    step = WHOLE_PACKAGE

    with pytest.raises(PackageError, match=r"is still being uploaded \(users.csv.part present\)"):
        conn.extract(step)


def test_the_download_is_removed_once_the_extraction_is_read(sshd, tmp_path):
    write_zip(sshd.folder("cleanup") / "x.zip", roster())

    run(sshd, sshd.root / "cleanup", tmp_path)

    assert list((tmp_path / "work").iterdir()) == []


def test_header_typo_fails_before_any_record_naming_file_and_header(sshd, tmp_path):
    files = roster() | {
        "users.csv": USERS.replace("sourcedId", "sourcedld", 1) + "u1,,,true,s1,student,,,A,B,,,,,,,,\n"
    }
    write_zip(sshd.folder("typo") / "x.zip", files)
    conn = connector(sshd, sshd.root / "typo", tmp_path)
    step = WHOLE_PACKAGE

    with pytest.raises(PackageError) as caught:
        conn.extract(step)

    assert caught.value.message == "users.csv: required column 'sourcedId' is missing (found 'sourcedld')"
    assert list((tmp_path / "work").iterdir()) == []


def test_file_starting_with_a_bom_is_read_in_full(sshd, tmp_path):
    files = roster() | {"users.csv": "\ufeff" + roster()["users.csv"]}
    write_zip(sshd.folder("bom") / "x.zip", files)

    extraction, items = run(sshd, sshd.root / "bom", tmp_path)

    assert ids(items, E.USER) == ["u1", "u2"]
    assert extraction.outcomes[E.USER].complete


def test_bom_glued_onto_a_header_name_fails_naming_the_header(sshd, tmp_path):
    # two exports concatenated by hand leave a BOM in front of a later header name
    files = roster() | {"orgs.csv": "name,\ufefftype,sourcedId\nNorth,school,s1\n"}
    write_zip(sshd.folder("glued-bom") / "x.zip", files)
    conn = connector(sshd, sshd.root / "glued-bom", tmp_path)
    step = WHOLE_PACKAGE

    with pytest.raises(PackageError, match=r"orgs.csv: required column 'type' is missing \(found '\\ufefftype'"):
        conn.extract(step)


def test_empty_enrollments_file_fails_naming_it(sshd, tmp_path):
    write_zip(sshd.folder("empty") / "x.zip", roster() | {"enrollments.csv": ""})
    conn = connector(sshd, sshd.root / "empty", tmp_path)
    step = WHOLE_PACKAGE

    with pytest.raises(PackageError, match=r"enrollments.csv is empty \(0 bytes\)"):
        conn.extract(step)


def test_truncated_zip_fails_naming_it(sshd, tmp_path):
    folder = sshd.folder("truncated")
    archive = write_zip(folder / "x.zip", roster() | {"enrollments.csv": ENROLLMENTS + "e,,,c,s,u,student,,,\n" * 5000})
    archive.write_bytes(archive.read_bytes()[:-200])
    conn = connector(sshd, folder, tmp_path)
    step = WHOLE_PACKAGE

    with pytest.raises(PackageError, match=r"x.zip is not a complete zip archive"):
        conn.extract(step)


def test_zip_failing_its_crc_leaves_the_entity_incomplete(sshd, tmp_path):
    folder = sshd.folder("crc")
    archive = folder / "x.zip"
    rows = "".join(f"e{i},,,c1,s1,u1,student,,,\n" for i in range(3000))
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for name, text in (roster() | {"enrollments.csv": ENROLLMENTS + rows}).items():
            zf.writestr(name, text)
    data = bytearray(archive.read_bytes())
    position = data.index(b"e2000,,,c1")
    data[position] = ord("f")
    archive.write_bytes(bytes(data))
    archive.chmod(0o644)

    extraction, _ = run(sshd, folder, tmp_path)

    outcome = extraction.outcomes[E.ENROLLMENT]
    assert not outcome.complete
    assert "fails its CRC check" in outcome.message
    assert extraction.outcomes[E.USER].complete


def test_delta_package_yields_its_rows_and_tombstones(sshd, tmp_path):
    files = {
        "manifest.csv": manifest(users="delta", enrollments="delta", orgs="absent"),
        "users.csv": USERS
        + "u3,active,2026-01-05,true,s1,student,,,E,F,,,,,,,,\nu1,tobedeleted,2026-01-05,,,,,,,,,,,,,,,\n",
        "enrollments.csv": ENROLLMENTS + "e1,inactive,2026-01-05,,,,,,,\n",
    }
    write_zip(sshd.folder("delta") / "x.zip", files)

    extraction, items = run(sshd, sshd.root / "delta", tmp_path)

    records = [(i.entity_type, i.external_id, i.tombstone) for i in items if isinstance(i, Record)]
    assert records == [(E.USER, "u3", False), (E.USER, "u1", True), (E.ENROLLMENT, "e1", True)]
    assert not [i for i in items if isinstance(i, RecordError)]
    assert {e: o.mode for e, o in extraction.outcomes.items()} == {
        E.SCHOOL: FeedMode.ABSENT,
        E.TERM: FeedMode.ABSENT,
        E.CLASS: FeedMode.ABSENT,
        E.USER: FeedMode.DELTA,
        E.ENROLLMENT: FeedMode.DELTA,
    }


def test_remote_folder_without_any_package_is_not_found(sshd, tmp_path):
    folder = sshd.folder("nothing")
    (folder / "readme.txt").write_text("hello")
    (folder / "readme.txt").chmod(0o644)
    conn = connector(sshd, folder, tmp_path)
    step = WHOLE_PACKAGE

    with pytest.raises(NotFoundError, match=r"has no manifest.csv and no file matching '\*.zip' \(found: readme.txt\)"):
        conn.extract(step)


def test_connection_test_checks_the_host_key_lists_and_names_the_package(sshd, tmp_path):
    folder = sshd.folder("testconn")
    write_zip(folder / "roster.zip", roster())

    result = connector(sshd, folder, tmp_path).test_connection()

    assert result.success
    assert result.message == "connected; would take roster.zip"
    assert result.details["listing"] == ["roster.zip"]
    assert result.details["host_key_type"] == "ssh-ed25519"
    assert result.details["server"]["auth"] == ["publickey"]


def test_connection_test_with_a_changed_host_key_fails_clearly(sshd, tmp_path):
    conn = connector(
        sshd,
        sshd.root,
        tmp_path,
        sftp=sshd.sftp_config(hostKeyFingerprint="SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"),
    )

    result = conn.test_connection()

    assert not result.success
    assert "does not match hostKeyFingerprint" in result.message


def test_extract_with_a_changed_host_key_raises_auth_error(sshd, tmp_path):
    conn = connector(
        sshd,
        sshd.root,
        tmp_path,
        sftp=sshd.sftp_config(hostKeyFingerprint="SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"),
    )
    step = WHOLE_PACKAGE

    with pytest.raises(AuthError):
        conn.extract(step)


def test_both_planned_steps_download_the_package_the_plan_chose(sshd, tmp_path):
    drop = sshd.folder("pinned")
    write_zip(drop / "a.zip", roster("s1"), mtime=1_000_000)
    conn = connector(sshd, drop, tmp_path)
    package, enrollments = conn.plan()
    # a newer export lands while the run is in flight: this run keeps reading the one it chose
    write_zip(drop / "b.zip", roster("s2"), mtime=2_000_000)

    first = conn.extract(package)
    first_items = list(first)
    second = conn.extract(enrollments)
    second_items = list(second)

    assert first.source["package"]["name"] == second.source["package"]["name"] == "a.zip"
    assert first.source["package"]["sha256"] == second.source["package"]["sha256"]
    assert ids(first_items, E.SCHOOL) == ["s1"]
    assert ids(second_items, E.ENROLLMENT) == ["e1", "e2"]


def test_a_pinned_package_rewritten_on_the_server_stops_the_step(sshd, tmp_path):
    folder = write_folder(sshd.folder("pinned-folder"), roster())
    conn = connector(sshd, folder, tmp_path)
    _, enrollments = conn.plan()
    write_folder(folder, {"enrollments.csv": roster()["enrollments.csv"] + "e3,,,c1,s1,u1,student,,,\n"})

    with pytest.raises(PackageError, match=r"enrollments.csv changed after this run chose it"):
        conn.extract(enrollments)
    assert list((tmp_path / "work").iterdir()) == []
