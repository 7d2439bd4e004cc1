"""Serving a simulator's ASGI app on a real socket, in a background thread or in the foreground.

Tests, the demo and the benchmark talk to simulators over real TCP, the way the connectors talk
to the real services. Port 0 picks a free port; the bound port is known before serving starts.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn


def bind(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    # the protocol must read IPPROTO_TCP, not 0: asyncio disables Nagle only on such sockets, and
    # with Nagle on, an answer written in two parts waits ~40 ms for the client's delayed ACK
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _config(app: Any, **kwargs: Any) -> uvicorn.Config:
    # h11 and asyncio keep the simulator free of optional accelerators; access logs cost ~20%
    return uvicorn.Config(app, access_log=False, log_level="warning", lifespan="off", **kwargs)


class ThreadedServer:
    """An ASGI app on `url` until `stop()`; start() returns once the socket accepts requests."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = bind(host, port)
        self.host, self.port = self._socket.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._server = uvicorn.Server(_config(app))
        self._thread = threading.Thread(target=self._run, name=f"asgi-{self.port}", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self) -> ThreadedServer:
        self._thread.start()
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"the server on {self.url} did not start")
            self._thread.join(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self._socket.close()


@contextmanager
def serving(app: Any, host: str = "127.0.0.1", port: int = 0) -> Iterator[ThreadedServer]:
    server = ThreadedServer(app, host, port).start()
    try:
        yield server
    finally:
        server.stop()


def serve_forever(app: Any, host: str, port: int) -> None:
    """Foreground serving for `sis-sync simulate`; Ctrl-C stops it."""
    uvicorn.Server(_config(app, host=host, port=port)).run()
