"""Process logging: one line per event, level from LOG_LEVEL."""

from __future__ import annotations

import logging
import sys

from libs.settings import Settings


def configure_logging(settings: Settings) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(settings.log_level.value.upper())
    # httpx logs full request URLs at INFO; a URL may carry an OAuth signature, keep it at WARNING
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    logging.getLogger("paramiko").setLevel(logging.WARNING)
