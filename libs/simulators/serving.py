"""Running a simulator's ASGI app on a real socket, in the foreground or on a thread.

The socket is bound before the server thread starts, so the address is known at once and a
client may connect immediately (the kernel queues it until the server accepts).
"""

from __future__ import annotations

import socket
import threading
from types import TracebackType
from typing import Any

import uvicorn


def _config(app: Any, *, log_level: str = "warning") -> uvicorn.Config:
    # no access log: at thousands of requests per second it would cost more than the answers
    return uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")


def serve_forever(app: Any, host: str, port: int, *, log_level: str = "info") -> None:
    config = _config(app, log_level=log_level)
    config.host, config.port = host, port
    uvicorn.Server(config).run()


class ServerThread:
    """`with ServerThread(app) as server: httpx.get(server.url + "/...")`."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        # the protocol must read IPPROTO_TCP (not 0): asyncio disables Nagle only on such sockets,
        # and with Nagle on every answer waits ~40 ms for the client's delayed ACK
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        self.host, self.port = self._socket.getsockname()[:2]
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


__all__ = ["ServerThread", "serve_forever"]
