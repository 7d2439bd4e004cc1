"""A small SFTP server that serves one folder read-only, like a district's SIS export drop.

Built on paramiko's server side so it runs where OpenSSH is not installed (the demo's fresh
machines); the tests of the connector itself run against a real sshd. The folder appears as
the server's root: `/` lists it, `/sets/moodle` is `<root>/sets/moodle`. Writes of any kind are
refused, and paths cannot leave the root (`..` and symlinks are resolved and checked).
"""

from __future__ import annotations

import contextlib
import errno
import hmac
import logging
import os
import posixpath
import socket
import threading
from pathlib import Path
from typing import Any, BinaryIO

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from paramiko.common import AUTH_FAILED, AUTH_SUCCESSFUL, OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED, OPEN_SUCCEEDED
from paramiko.sftp import SFTP_PERMISSION_DENIED

from libs.connectors.sftp.keys import fingerprint, parse_private_key

log = logging.getLogger(__name__)

# paramiko logs a client that hangs up without a goodbye as an error; for a simulator that is noise
_TRANSPORT_LOG = "devkit.simulators.sftp.transport"


class _DropHangups(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Socket exception")


logging.getLogger(_TRANSPORT_LOG).addFilter(_DropHangups())

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND


def _status(exc: OSError) -> int:
    return int(paramiko.SFTPServer.convert_errno(exc.errno or errno.EIO))


def new_host_key() -> str:
    """A fresh Ed25519 private key in OpenSSH format."""
    key = ed25519.Ed25519PrivateKey.generate()
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def load_or_create_host_key(path: Path) -> paramiko.PKey:
    """The simulator's host key, kept in a file so its fingerprint survives restarts."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(new_host_key())
        path.chmod(0o600)
    return parse_private_key(path.read_text())


class _ReadOnlyFolder(paramiko.SFTPServerInterface):
    def __init__(self, server: Any, root: Path, *args: Any, **kwargs: Any) -> None:
        super().__init__(server, *args, **kwargs)
        self.root = root.resolve()

    def _real(self, path: str) -> Path | None:
        virtual = posixpath.normpath("/" + path)
        real = (self.root / virtual.lstrip("/")).resolve()
        if real != self.root and self.root not in real.parents:
            return None
        return real

    def canonicalize(self, path: str) -> str:
        return posixpath.normpath("/" + path)

    def list_folder(self, path: str) -> list[paramiko.SFTPAttributes] | int:
        real = self._real(path)
        if real is None:
            return SFTP_PERMISSION_DENIED
        try:
            names = sorted(os.listdir(real))
        except OSError as exc:
            return _status(exc)
        entries = []
        for name in names:
            try:
                entries.append(paramiko.SFTPAttributes.from_stat(os.stat(real / name), name))
            except OSError:
                continue  # vanished between listdir and stat
        return entries

    def stat(self, path: str) -> paramiko.SFTPAttributes | int:
        real = self._real(path)
        if real is None:
            return SFTP_PERMISSION_DENIED
        try:
            return paramiko.SFTPAttributes.from_stat(os.stat(real), real.name)
        except OSError as exc:
            return _status(exc)

    lstat = stat

    def open(self, path: str, flags: int, attr: paramiko.SFTPAttributes) -> paramiko.SFTPHandle | int:
        real = self._real(path)
        if real is None or flags & _WRITE_FLAGS:
            return SFTP_PERMISSION_DENIED
        try:
            handle_file = real.open("rb")
        except OSError as exc:
            return _status(exc)
        handle = _Handle(flags)
        handle.readfile = handle_file
        handle.filename = str(real)
        return handle

    def _refuse(self, *args: Any, **kwargs: Any) -> int:
        return SFTP_PERMISSION_DENIED

    remove = rename = posix_rename = mkdir = rmdir = chattr = symlink = _refuse


class _Handle(paramiko.SFTPHandle):
    readfile: BinaryIO
    filename: str

    def stat(self) -> paramiko.SFTPAttributes | int:
        try:
            return paramiko.SFTPAttributes.from_stat(os.fstat(self.readfile.fileno()))
        except OSError as exc:
            return _status(exc)


class _Login(paramiko.ServerInterface):
    def __init__(self, username: str, password: str | None, authorized: list[paramiko.PKey]) -> None:
        self.username = username
        self.password = password
        self.authorized = {key.asbytes() for key in authorized}

    def get_allowed_auths(self, username: str) -> str:
        methods = []
        if self.authorized:
            methods.append("publickey")
        if self.password:
            methods.append("password")
        return ",".join(methods)

    def check_auth_password(self, username: str, password: str) -> int:
        if (
            self.password is not None
            and hmac.compare_digest(username.encode(), self.username.encode())
            and hmac.compare_digest(password.encode(), self.password.encode())
        ):
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if hmac.compare_digest(username.encode(), self.username.encode()) and key.asbytes() in self.authorized:
            return AUTH_SUCCESSFUL
        return AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return OPEN_SUCCEEDED
        return OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


class SftpSimulator:
    """Serve `root` read-only on host:port until stopped; usable as a context manager in tests."""

    def __init__(
        self,
        root: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        username: str = "sis-sync",
        password: str | None = None,
        authorized_keys: list[paramiko.PKey] | None = None,
        host_key: paramiko.PKey | None = None,
    ) -> None:
        if password is None and not authorized_keys:
            raise ValueError("the simulator needs a password or an authorized key")
        self.root = root
        self.host = host
        self.username = username
        self.password = password
        self.authorized_keys = list(authorized_keys or [])
        self.host_key = host_key or parse_private_key(new_host_key())
        self._socket = socket.create_server((host, port), backlog=64)
        self.port: int = self._socket.getsockname()[1]
        self._stopping = threading.Event()
        self._transports: list[paramiko.Transport] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.host_key)

    def provider_config(self, remote_path: str = "/") -> dict[str, Any]:
        """A ONEROSTER_CSV provider config pointing at this server."""
        block: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "hostKeyFingerprint": self.fingerprint,
        }
        if self.password:
            block["password"] = self.password
        return {"sftp": block, "remotePath": remote_path}

    def start(self) -> SftpSimulator:
        self._thread = threading.Thread(target=self._accept, name=f"sftp-simulator:{self.port}", daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._accept()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                conn, _ = self._socket.accept()
            except OSError:
                break
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        # responses are small and frequent: Nagle plus delayed ACKs would add ~40 ms to each
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(conn)
        transport.set_log_channel(_TRANSPORT_LOG)
        transport.add_server_key(self.host_key)
        transport.set_subsystem_handler("sftp", paramiko.SFTPServer, _ReadOnlyFolder, self.root)
        with self._lock:
            self._transports.append(transport)
        try:
            transport.start_server(server=_Login(self.username, self.password, self.authorized_keys))
            # the sftp subsystem runs on its own thread; accepted channels are only kept referenced,
            # because a Channel closes itself when garbage collected
            channels = []
            while transport.is_active() and not self._stopping.is_set():
                channel = transport.accept(timeout=1)
                if channel is not None:
                    channels.append(channel)
        except (paramiko.SSHException, EOFError, OSError) as exc:
            log.debug("sftp simulator connection ended: %s", exc)
        finally:
            transport.close()
            with self._lock:
                self._transports.remove(transport)

    def stop(self) -> None:
        self._stopping.set()
        with contextlib.suppress(OSError):
            # wakes the thread blocked in accept(); close() alone does not on Linux
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        with self._lock:
            transports = list(self._transports)
        for transport in transports:
            transport.close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> SftpSimulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = ["SftpSimulator", "load_or_create_host_key", "new_host_key"]
