"""Process-wide resources of a worker, created once on first use."""

from __future__ import annotations

import functools

from libs.etl.context import EtlContext
from libs.settings import get_settings


@functools.cache
def worker_context() -> EtlContext:
    return EtlContext.from_settings(get_settings())
