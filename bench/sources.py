"""The sources a benchmark syncs from; each yields a provider type and config while it runs."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from libs.enums import ProviderType
from libs.generator import District, write_oneroster_csv


@contextmanager
def oneroster_csv(*, district: District, work_dir: Path, **_: Any) -> Iterator[dict[str, Any]]:
    folder = write_oneroster_csv(district, work_dir / "package")
    yield {"type": ProviderType.ONEROSTER_CSV, "config": {"localPath": str(folder)}}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def clever(*, size: str, seed: int, work_dir: Path, **_: Any) -> Iterator[dict[str, Any]]:
    """The Clever simulator in its own process, so that serving does not share the bench's CPU time."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log = (work_dir / "simulator.log").open("w+b")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "simulate",
            "clever",
            "--size",
            size,
            "--seed",
            str(seed),
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        config = _wait_for_config(process, work_dir / "simulator.log")
        yield {"type": ProviderType.CLEVER, "config": config}
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _wait_for_config(process: subprocess.Popen[bytes], log_path: Path, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in log_path.read_text(errors="replace").splitlines():
            if line.startswith("provider config: "):
                config: dict[str, Any] = json.loads(line.removeprefix("provider config: "))
                return config
        if process.poll() is not None:
            raise RuntimeError(f"the Clever simulator exited:\n{log_path.read_text(errors='replace')[-2000:]}")
        time.sleep(0.2)
    raise TimeoutError("the Clever simulator did not start")


SOURCES: dict[str, Callable[..., AbstractContextManager[dict[str, Any]]]] = {
    "csv": oneroster_csv,
    "clever": clever,
}
