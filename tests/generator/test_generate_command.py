"""`sis-sync generate`: packages, churn reports and clear refusals."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from devkit.generator import Churn, District, DistrictSpec
from libs.enums import EntityType
from services.cli import main

TINY = ["--students", "300", "--teachers", "20", "--schools", "5"]


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_generate_writes_the_tier_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["generate", "--size", "s", "--seed", "4", "--out", str(tmp_path), *TINY]) == 0
    expected = District(DistrictSpec(students=300, teachers=20, schools=5, seed=4)).counts()[EntityType.USER]
    assert f"{expected:,} users" in capsys.readouterr().out
    assert len(rows(tmp_path / "users.csv")) == expected
    assert not (tmp_path / "churn.json").exists()


def test_generate_with_churn_writes_the_churned_state_and_its_report(tmp_path: Path) -> None:
    args = ["generate", "--seed", "4", "--out", str(tmp_path), "--zip", "--churn", "10%", "--churn-seed", "8", *TINY]
    assert main(args) == 0
    base = District(DistrictSpec(students=300, teachers=20, schools=5, seed=4))
    expected = base.with_churn(10, seed=8)
    report = Churn.from_dict(json.loads((tmp_path / "churn.json").read_text()))
    assert report.as_dict() == expected.churn.as_dict()
    with zipfile.ZipFile(tmp_path / "oneroster.zip") as archive:
        users = archive.read("users.csv").decode().splitlines()
    assert len(users) - 1 == expected.counts()[EntityType.USER]


def test_generate_rollover_delta_and_empty_enrollments(tmp_path: Path) -> None:
    assert main(["generate", "--out", str(tmp_path / "roll"), "--rollover", "--delta", *TINY]) == 0
    statuses = {row["status"] for row in rows(tmp_path / "roll" / "enrollments.csv")}
    assert statuses == {"active", "tobedeleted"}
    assert main(["generate", "--out", str(tmp_path / "empty"), "--empty", "enrollments", *TINY]) == 0
    assert rows(tmp_path / "empty" / "enrollments.csv") == []
    report = json.loads((tmp_path / "empty" / "churn.json").read_text())
    assert report["entities"]["enrollment"]["dropped"] > 0


def test_generate_refuses_bad_input_clearly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["generate", "--out", str(tmp_path), "--churn", "lots"])
    assert "not a percentage" in capsys.readouterr().err
    assert main(["generate", "--out", str(tmp_path), "--students", "2", "--schools", "5"]) == 2
    assert "cannot fill" in capsys.readouterr().err
    assert main(["generate", "--out", str(tmp_path), "--delta", *TINY]) == 2
    assert "--delta needs" in capsys.readouterr().err


def test_output_does_not_depend_on_the_process(tmp_path: Path) -> None:
    # string hashing is randomised per process; nothing the generator writes may depend on it
    script = (
        "import sys; from devkit.generator import District, DistrictSpec, write_oneroster_csv; "
        "base = District(DistrictSpec(students=300, teachers=20, schools=5, seed=4)); "
        "state = base.with_rollover(seed=1).with_churn(5, seed=2); "
        "write_oneroster_csv(state, sys.argv[1], zip=True); write_oneroster_csv(state, sys.argv[2], delta_from=base); "
        "state.churn.write(sys.argv[3])"
    )
    outputs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / hash_seed
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        paths = [str(out / "bulk.zip"), str(out / "delta"), str(out / "churn.json")]
        subprocess.run([sys.executable, "-c", script, *paths], check=True, env=env, capture_output=True)
        outputs.append([p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()])
    assert len(outputs[0]) == 9
    assert outputs[0] == outputs[1]
