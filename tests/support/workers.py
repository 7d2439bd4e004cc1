"""Real worker processes for end-to-end tests (the dev kit's, devkit/processes.py, which `make bench` also uses)."""

import uuid
from typing import Any

from devkit import processes
from devkit.processes import ServiceProcess, process_env, start_worker, wait_until
from tests.support.providers import assert_stats_add_up

__all__ = ["ServiceProcess", "Syncs", "process_env", "start_worker", "wait_until"]


class Syncs(processes.Syncs):
    """The dev kit's runs, and every run an end-to-end test waits for has stats that add up."""

    def wait(self, run_id: uuid.UUID, *, timeout: float = 180) -> dict[str, Any]:
        run = super().wait(run_id, timeout=timeout)
        assert_stats_add_up(run)
        return run
