"""A host whose wall clock is off: Python loads this module at start (site) when its folder is on
PYTHONPATH, and SIS_CLOCK_OFFSET_SECONDS moves time.time() and time.time_ns() by that much in the
process and in every worker process it starts.

An injected clock rather than libfaketime: libfaketime's wrappers of timed waits hang Python's
threading.Event.wait (a 1 s wait never returns with a -120 s offset), which would test
libfaketime, not the service. The monotonic clock is left alone: it is never compared across
hosts.
"""

from __future__ import annotations

import os
import time

_OFFSET = float(os.environ.get("SIS_CLOCK_OFFSET_SECONDS") or 0)

if _OFFSET:
    _time, _time_ns = time.time, time.time_ns

    def _skewed_time() -> float:
        return _time() + _OFFSET

    def _skewed_time_ns() -> int:
        return _time_ns() + int(_OFFSET * 1_000_000_000)

    time.time = _skewed_time
    time.time_ns = _skewed_time_ns
