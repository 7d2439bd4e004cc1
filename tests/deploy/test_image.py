"""deploy/Dockerfile: built from the lock files only, runs as a non-root user on a read-only root.

Docker is not on this machine: the file is parsed, and its build stage rehearsed with the same
pip commands (the build tools from their lock, the service's wheel built with them, no index).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import venv
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comment lines dropped, as Docker reads them."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        pending = f"{pending} {line}".strip()
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
            continue
        keyword, _, args = pending.partition(" ")
        out.append((keyword.upper(), args.strip()))
        pending = ""
    return out


def stages() -> dict[str, list[tuple[str, str]]]:
    found: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] = []
    for keyword, args in instructions():
        if keyword == "FROM":
            current = found.setdefault(args.split(" AS ")[-1], [])
        current.append((keyword, args))
    return found


def test_two_stages_and_the_runtime_stage_installs_nothing_itself() -> None:
    build, runtime = stages()["build"], stages()["runtime"]
    assert build[0][1].startswith("python:3.11")
    assert runtime[0][1].split(" ")[0] == build[0][1].split(" ")[0]
    runs = " ".join(args for keyword, args in runtime if keyword == "RUN")
    assert "pip" not in runs
    copies = [args for keyword, args in runtime if keyword == "COPY"]
    assert copies == ["--from=build /opt/sis-sync /opt/sis-sync"]


def test_every_pip_install_is_pinned_by_hashes_or_takes_no_index() -> None:
    commands = [c.strip() for keyword, args in instructions() if keyword == "RUN" for c in args.split("&&")]
    installs = [c for c in commands if re.search(r"\bpip (install|wheel)\b", c)]
    assert len(installs) == 4
    for command in installs:
        assert "--require-hashes" in command or "--no-index" in command, command
    locks = {m for c in installs for m in re.findall(r"-r \S*/(requirements[\w-]*\.lock)", c)}
    assert locks == {"requirements.lock", "requirements-build.lock"}


def test_every_copied_path_exists() -> None:
    for keyword, args in instructions():
        if keyword == "COPY" and not args.startswith("--from"):
            *sources, _ = args.split()
            for source in sources:
                assert (ROOT / source).exists(), source


def test_it_runs_as_the_uid_the_manifests_and_compose_expect_and_writes_only_to_its_data_dir() -> None:
    runtime = stages()["runtime"]
    (user,) = [args for keyword, args in runtime if keyword == "USER"]
    uid = user.split(":")[0]
    assert uid.isdigit()
    assert int(uid) != 0
    env = " ".join(args for keyword, args in runtime if keyword == "ENV")
    # no .pyc written at run time (compiled at build), and DATA_DIR is the one writable folder
    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "DATA_DIR=/var/lib/sis-sync" in env
    assert "compileall" in " ".join(args for keyword, args in stages()["build"] if keyword == "RUN")
    for path in sorted((ROOT / "deploy" / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            pod = (doc or {}).get("spec", {}).get("template", {}).get("spec")
            if pod:
                assert pod["securityContext"]["runAsUser"] == int(uid), path.name
    compose = yaml.safe_load((ROOT / "deploy" / "docker-compose.yml").read_text())
    for name, service in compose["services"].items():
        if service.get("build"):
            assert service.get("read_only") is True, name
            assert service.get("user", uid).split(":")[0] == uid, name


@pytest.mark.xdist_group("image")
def test_the_build_stage_installs_from_the_locks_alone(tmp_path: Path) -> None:
    # the build stage's steps: the build tools from their lock, then the service's wheel with them
    # and no index (installing requirements.lock with its hashes is what `make install` does with
    # the dev lock on every CI run; tests/test_lock.py checks both cover pyproject.toml)
    tools = tmp_path / "build"
    venv.create(tools, with_pip=True)
    pip = [str(tools / "bin" / "python"), "-m", "pip", "--disable-pip-version-check", "-q"]

    def run(*args: str) -> None:
        done = subprocess.run([*pip, *args], capture_output=True, text=True, timeout=600, check=False)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    run("install", "--require-hashes", "-r", str(ROOT / "requirements-build.lock"))
    source = tmp_path / "src"
    source.mkdir()
    for part in ("pyproject.toml", "README.md", "alembic.ini", "libs", "services", "migrations"):
        if (ROOT / part).is_dir():
            shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / part, source / part)
    run("wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", str(tmp_path / "wheels"), str(source))
    assert list((tmp_path / "wheels").glob("sis_sync-*.whl"))
