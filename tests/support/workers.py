"""Real worker processes for end-to-end tests (the dev kit's, devkit/processes.py, which `make bench` also uses)."""

from devkit.processes import ServiceProcess, Syncs, process_env, start_worker, wait_until

__all__ = ["ServiceProcess", "Syncs", "process_env", "start_worker", "wait_until"]
