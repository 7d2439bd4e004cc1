"""The API app on uvicorn in a background thread, on a free port of 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import threading

import uvicorn
from starlette.types import ASGIApp

from devkit.processes import wait_until
from libs.settings import Settings
from services.api.app import create_app


class ThreadedApi:
    def __init__(self, settings: Settings, app: ASGIApp | None = None) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app or create_app(settings), log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=f"api-{self.port}", daemon=True)

    def _serve(self) -> None:
        asyncio.run(self._server.serve([self._socket]))

    def __enter__(self) -> ThreadedApi:
        self._thread.start()
        wait_until(lambda: self._server.started or not self._thread.is_alive(), timeout=30, what="the API server")
        if not self._server.started:
            raise RuntimeError("the API server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(15)
        self._socket.close()
