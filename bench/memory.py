"""Peak resident memory of a process tree, sampled in the background."""

from __future__ import annotations

import threading

import psutil


class PeakRss:
    """Samples every process in the tree rooted at `pid`; `peak_child_mb` is the largest one seen."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self._root = psutil.Process(pid)
        self._interval = interval
        self._stop = threading.Event()
        self.peak_child_mb = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def reset(self) -> None:
        self.peak_child_mb = 0.0

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                processes = [self._root, *self._root.children(recursive=True)]
                sizes = []
                for process in processes:
                    try:
                        sizes.append(process.memory_info().rss / 2**20)
                    except psutil.NoSuchProcess:
                        continue
                self.peak_child_mb = max([self.peak_child_mb, *sizes])
            except psutil.NoSuchProcess:
                return
            self._stop.wait(self._interval)
