"""Real worker processes for end-to-end tests (see libs/harness)."""

from libs.harness.processes import ServiceProcess, Syncs, process_env, start_worker, wait_until

__all__ = ["ServiceProcess", "Syncs", "process_env", "start_worker", "wait_until"]
