"""The production wheel: libs, services and migrations, without the dev kit, and code that runs
without it (libs imports no services; neither imports devkit or tests; the dev kit's commands say
what to install)."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEV_KIT_PARTS = {"devkit", "simulators", "generator", "harness", "embedded"}
DEV_COMMANDS = ["demo", "generate", "simulate"]
NEEDS_DEVKIT = "pip install -e '.[dev,embedded]'"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip wheel .` builds, from a copy of the checkout (a stale build/ would leak into it)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    ignore = shutil.ignore_patterns(".*", "build", "dist", "*.egg-info", "__pycache__", "out", "test-artifacts")
    shutil.copytree(ROOT, source, ignore=ignore)
    out = tmp / "dist"
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", out, source],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    (path,) = out.glob("sis_sync-*.whl")
    return path


def test_the_wheel_holds_the_service_and_nothing_of_the_dev_kit(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    modules = [name for name in names if name.endswith(".py")]
    assert {name.split("/")[0] for name in modules} == {"libs", "services", "migrations"}
    assert "services/cli/__init__.py" in modules
    assert "libs/etl/runs.py" in modules
    dev_kit = [name for name in names if DEV_KIT_PARTS & set(name.split("/"))]
    assert dev_kit == []


def test_the_dev_kit_commands_of_a_production_install_say_what_to_install(wheel: Path, tmp_path: Path) -> None:
    # the wheel's code and its dependencies, no checkout: -S skips the editable install's .pth
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    env = {"PYTHONPATH": f"{site}:{sysconfig.get_paths()['purelib']}", "PATH": "/usr/bin:/bin"}
    cli = "import sys; from services.cli import main; sys.exit(main(sys.argv[1:]))"

    def sis_sync(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-S", "-c", cli, *args]
        return subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=60)

    assert sis_sync("keygen").returncode == 0
    for command in DEV_COMMANDS:
        result = sis_sync(command, "--help")
        assert result.returncode == 2, result.stdout + result.stderr
        assert result.stdout == ""
        assert result.stderr.count("\n") == 1, result.stderr
        assert result.stderr.startswith(f"sis-sync {command}: needs the dev kit")
        assert NEEDS_DEVKIT in result.stderr


def test_a_checkout_imports_the_dev_kit_from_anywhere(tmp_path: Path) -> None:
    # the editable install maps devkit (and bench) for every process, not only pytest's rootdir
    script = "import bench, devkit.simulators.clever.app, devkit.processes; print(devkit.__file__)"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip()) == ROOT / "devkit" / "__init__.py"


class _Imports(ast.NodeVisitor):
    """Absolute imports of a module, each with whether it runs inside a function, the strings that
    could name a module (import_module arguments, `python -m` targets), and whether each
    import_module call is inside a function."""

    def __init__(self) -> None:
        self.imports: list[tuple[str, bool]] = []
        self.strings: list[str] = []
        self.import_module_calls: list[bool] = []
        self._depth = 0

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self._depth += 1
        self.generic_visit(node)
        self._depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def visit_Import(self, node: ast.Import) -> None:
        self.imports.extend((alias.name, self._depth > 0) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.imports.append((node.module, self._depth > 0))

    def visit_Call(self, node: ast.Call) -> None:
        called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", None)
        if called in ("import_module", "__import__"):
            self.import_module_calls.append(self._depth > 0)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, str) and re.fullmatch(r"[A-Za-z_]\w*(\.\w+)*(:\w+)?", node.value):
            self.strings.append(node.value)


def _modules(package: str) -> Iterator[tuple[str, _Imports]]:
    for path in sorted((ROOT / package).rglob("*.py")):
        found = _Imports()
        found.visit(ast.parse(path.read_text(), filename=str(path)))
        yield path.relative_to(ROOT).as_posix(), found


def _names(module: str, roots: set[str]) -> bool:
    return module.partition(":")[0].split(".")[0] in roots


def test_libs_import_neither_services_nor_the_dev_kit_nor_tests() -> None:
    found = [
        (path, name)
        for path, module in _modules("libs")
        for name in [name for name, _ in module.imports] + module.strings
        if _names(name, {"services", "devkit", "tests"})
    ]
    assert found == []


def test_services_load_the_dev_kit_only_inside_the_dev_commands() -> None:
    imports = []
    named = []
    for path, module in _modules("services"):
        imports += [(path, name) for name, _ in module.imports if _names(name, {"devkit", "tests"})]
        named += [(path, name) for name in module.strings if _names(name, {"devkit", "tests"})]
        assert all(module.import_module_calls), f"{path} imports a module by name at import time"
    assert imports == []
    # the dev commands name their dev kit modules and import them when they run
    assert {path for path, _ in named} == {"services/cli/dev.py"}
    assert all(_names(name, {"devkit"}) for _, name in named)
