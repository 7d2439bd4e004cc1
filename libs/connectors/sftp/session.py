"""An SFTP session with a pinned host key: connect, list, stat, download to a file with its sha256.

The host key is checked against the configured SHA256 fingerprint before any credential is
sent; there is no known_hosts and no auto-add. A server offers several host keys (Ed25519,
ECDSA, RSA) and the handshake settles on one; the admin may have pinned another of them, so on
a mismatch the other key types are asked for in turn before the connection is refused.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import socket
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko

from libs.connectors.egress import STRICT, EgressPolicy, IPAddress, Unresolvable, open_socket
from libs.connectors.errors import AuthError, ConfigError, NotFoundError, ProviderUnavailable, short_reason
from libs.connectors.pauses import checkpoint
from libs.connectors.sftp.config import SftpSettings
from libs.connectors.sftp.keys import KeyFolder, fingerprint, parse_private_key, read_private_key

# one entry per host key (RSA signs with several algorithms but is one key)
_KEY_TYPE_GROUPS: tuple[tuple[str, ...], ...] = (
    ("ssh-ed25519",),
    ("ecdsa-sha2-nistp256",),
    ("ecdsa-sha2-nistp384",),
    ("ecdsa-sha2-nistp521",),
    ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"),
)
_CHUNK = 1 << 20
_PROBE_LOG = "libs.connectors.sftp.host_key_probe"
logging.getLogger(_PROBE_LOG).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class RemoteEntry:
    name: str
    size: int
    mtime: float
    is_dir: bool


@dataclass(frozen=True)
class Download:
    size: int
    sha256: str
    seconds: float

    @property
    def mb_per_second(self) -> float:
        return self.size / 1e6 / self.seconds if self.seconds > 0 else 0.0


def _within(timeout: float, deadline: float | None, where: str) -> float:
    """`timeout` capped to the time left before `deadline` (a connection test's end, time.monotonic())."""
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise ProviderUnavailable(f"no time left to reach {where}")
    return min(timeout, left)


class SftpSession:
    def __init__(self, settings: SftpSettings, transport: paramiko.Transport, client: paramiko.SFTPClient) -> None:
        self.settings = settings
        self.transport = transport
        self.client = client
        self.host_key_type = transport.get_remote_server_key().get_name()

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _io_error(self, exc: OSError, path: str) -> Exception:
        if exc.errno == errno.ENOENT:
            return NotFoundError(f"{path} does not exist on {self.where}")
        if exc.errno == errno.EACCES:
            return AuthError(f"{self.settings.username} may not read {path} on {self.where}")
        return ProviderUnavailable(f"SFTP error on {path} at {self.where}: {short_reason(exc.strerror or str(exc))}")

    def stat(self, path: str) -> RemoteEntry:
        try:
            attrs = self.client.stat(path)
        except OSError as exc:
            raise self._io_error(exc, path) from None
        return _entry(path.rstrip("/").rsplit("/", 1)[-1] or "/", attrs)

    def list(self, path: str) -> list[RemoteEntry]:
        try:
            return [_entry(attrs.filename, attrs) for attrs in self.client.listdir_attr(path)]
        except OSError as exc:
            raise self._io_error(exc, path) from None

    def download(self, path: str, target: Path, *, size: int) -> Download:
        """Stream the first `size` bytes of the file to `target`, hashing as they come.

        Never holds the file in memory. The caller compares `size` of the result with the listing
        (a shrunk file) and stats the file again (a grown or rewritten one).
        """
        digest = hashlib.sha256()
        received = 0
        started = time.perf_counter()
        try:
            with self.client.open(path, "rb") as handle, target.open("wb") as out:
                # pipelined reads: without prefetch every 32 KB costs a round trip
                handle.prefetch(size)
                # read exactly the listed size: a read past the prefetched range is a synchronous
                # request that can stall some servers; a file that grew is caught by the caller's re-stat
                while received < size:
                    checkpoint()  # a cancelled run stops mid-file, not after a large download
                    chunk = handle.read(min(_CHUNK, size - received))
                    if not chunk:
                        break
                    digest.update(chunk)
                    out.write(chunk)
                    received += len(chunk)
        except OSError as exc:
            raise self._io_error(exc, path) from None
        except (paramiko.SSHException, EOFError) as exc:
            reason = short_reason(str(exc))
            raise ProviderUnavailable(f"downloading {path} from {self.where} failed: {reason}") from None
        return Download(size=received, sha256=digest.hexdigest(), seconds=time.perf_counter() - started)

    def close(self) -> None:
        self.client.close()
        self.transport.close()


def _entry(name: str, attrs: paramiko.SFTPAttributes) -> RemoteEntry:
    mode = attrs.st_mode or 0
    return RemoteEntry(
        name=name,
        size=int(attrs.st_size or 0),
        mtime=float(attrs.st_mtime or 0),
        is_dir=stat.S_ISDIR(mode),
    )


def _addresses(settings: SftpSettings, egress: EgressPolicy) -> list[IPAddress]:
    """The host's addresses, resolved once and checked by the egress policy (EgressRefused otherwise)."""
    try:
        return egress.addresses(settings.host, settings.port)
    except Unresolvable:
        raise ProviderUnavailable(f"cannot resolve the SFTP host {settings.host}") from None


def _open(settings: SftpSettings, addresses: list[IPAddress], timeout: float) -> socket.socket:
    """A socket to the first checked address that answers; never a second lookup of the name."""
    where = f"{settings.host}:{settings.port}"
    failure: OSError | None = None
    for address in addresses:
        try:
            return open_socket(address, settings.port, timeout)
        except OSError as exc:
            failure = exc
    if isinstance(failure, ConnectionRefusedError):
        raise ProviderUnavailable(f"{where} refused the connection (is the SFTP server running?)") from None
    if isinstance(failure, TimeoutError):
        raise ProviderUnavailable(f"connecting to {where} timed out after {timeout:g} s") from None
    reason = failure.strerror if failure is not None and failure.strerror else str(failure)
    raise ProviderUnavailable(f"cannot connect to {where}: {reason}") from None


def _handshake(
    settings: SftpSettings,
    addresses: list[IPAddress],
    key_types: tuple[str, ...] | None = None,
    deadline: float | None = None,
) -> paramiko.Transport:
    where = f"{settings.host}:{settings.port}"
    timeout = _within(settings.connect_timeout, deadline, where)
    sock = _open(settings, addresses, timeout)
    # SFTP is request/response: with Nagle's algorithm each small request can wait for a delayed ACK
    # (~40 ms), which turns any unpipelined read into a crawl
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    transport = paramiko.Transport(sock)
    transport.banner_timeout = transport.handshake_timeout = timeout
    if key_types is not None:
        # a probe for a host key type the server may lack: its failure is expected, keep it out of the logs
        transport.set_log_channel(_PROBE_LOG)
        options = transport.get_security_options()
        offered = tuple(t for t in key_types if t in options.key_types)
        if not offered:
            transport.close()
            raise _NoSuchKeyType
        options.key_types = offered
    try:
        transport.start_client(timeout=timeout)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        transport.close()
        if key_types is not None:
            raise _NoSuchKeyType from None
        raise ProviderUnavailable(f"SSH handshake with {where} failed: {short_reason(str(exc))}") from None
    if not transport.is_active() or not transport.initial_kex_done:
        # start_client returns quietly when its timeout passes: a port that accepts and never speaks SSH
        transport.close()
        if key_types is not None:
            raise _NoSuchKeyType
        raise ProviderUnavailable(f"SSH handshake with {where} failed: no SSH answer within {timeout:g} s")
    return transport


class _NoSuchKeyType(Exception):
    """The server has no host key of the type asked for."""


def _pinned_transport(
    settings: SftpSettings, addresses: list[IPAddress], deadline: float | None = None
) -> paramiko.Transport:
    transport = _handshake(settings, addresses, deadline=deadline)
    key = transport.get_remote_server_key()
    presented = {key.get_name(): fingerprint(key)}
    if presented[key.get_name()] == settings.host_key_fingerprint:
        return transport
    transport.close()
    for group in _KEY_TYPE_GROUPS:
        if key.get_name() in group:
            continue
        try:
            other = _handshake(settings, addresses, group, deadline)
        except _NoSuchKeyType:
            continue
        other_key = other.get_remote_server_key()
        presented[other_key.get_name()] = fingerprint(other_key)
        if presented[other_key.get_name()] == settings.host_key_fingerprint:
            return other
        other.close()
    shown = ", ".join(f"{name} {value}" for name, value in presented.items())
    raise AuthError(
        f"the SSH host key of {settings.host}:{settings.port} does not match hostKeyFingerprint "
        f"{settings.host_key_fingerprint} (the server presented {shown}); if the server's key was replaced on "
        "purpose, update hostKeyFingerprint, otherwise the connection may be intercepted",
        details={"presented": presented},
    )


def _private_key(settings: SftpSettings, key_folder: KeyFolder | None) -> paramiko.PKey | None:
    try:
        if settings.private_key:
            return parse_private_key(settings.private_key, settings.private_key_passphrase)
        if settings.private_key_path:
            return read_private_key(settings.private_key_path, settings.private_key_passphrase, folder=key_folder)
    except ValueError as exc:
        prefix = "privateKey " if settings.private_key else ""
        raise ConfigError(f"config.sftp.{prefix}{exc}") from None
    return None


def _authenticate(transport: paramiko.Transport, settings: SftpSettings, key: paramiko.PKey | None) -> None:
    try:
        _try_credentials(transport, settings, key)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        where = f"{settings.host}:{settings.port}"
        raise ProviderUnavailable(f"{where} closed the connection during login: {short_reason(str(exc))}") from None


def _try_credentials(transport: paramiko.Transport, settings: SftpSettings, key: paramiko.PKey | None) -> None:
    who = f"{settings.username}@{settings.host}:{settings.port}"
    refused: list[str] = []
    if key is not None:
        try:
            transport.auth_publickey(settings.username, key)
            return
        except paramiko.BadAuthenticationType as exc:
            refused.append(f"public key (the server accepts only {_methods(exc)})")
        except paramiko.AuthenticationException:
            refused.append("the private key")
    if settings.password:
        try:
            transport.auth_password(settings.username, settings.password)
            return
        except paramiko.BadAuthenticationType as exc:
            refused.append(f"password (the server accepts only {_methods(exc)})")
        except paramiko.AuthenticationException:
            refused.append("the password")
    if not refused:
        raise ConfigError("config.sftp needs a credential: privateKeyPath, privateKey or password")
    raise AuthError(f"{who} refused {' and '.join(refused)}")


def _methods(exc: paramiko.BadAuthenticationType) -> str:
    return short_reason(", ".join(str(t) for t in exc.allowed_types), limit=60)


def _open_sftp(transport: paramiko.Transport, settings: SftpSettings) -> paramiko.SFTPClient:
    where = f"{settings.host}:{settings.port}"
    try:
        client = paramiko.SFTPClient.from_transport(transport)
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise ProviderUnavailable(f"{where} did not open an SFTP session: {short_reason(str(exc))}") from None
    if client is None:
        raise ProviderUnavailable(f"{where} did not open an SFTP session")
    return client


@contextmanager
def connect(
    settings: SftpSettings,
    *,
    egress: EgressPolicy = STRICT,
    key_folder: KeyFolder | None = None,
    deadline: float | None = None,
) -> Iterator[SftpSession]:
    """A session whose host key matched the pin and whose credentials were accepted.

    The key file is read (inside `key_folder` when given) before anything is sent; the host is
    resolved once and every connection of the session (host key probes included) goes to an
    address the `egress` policy checked (by default the strict one). Connectors pass both from
    their context; no key folder means none (tools and tests calling this directly). With a
    `deadline` (a connection test's end), no connect, handshake, login or answer is awaited past
    it: the handshake's timeouts end there, and paramiko, which awaits some answers without a
    limit (a channel, the SFTP subsystem), sees its transport closed by a timer at the deadline.
    """
    key = _private_key(settings, key_folder)
    addresses = _addresses(settings, egress)
    transport = _pinned_transport(settings, addresses, deadline)
    watchdog = threading.Timer(deadline - time.monotonic(), transport.close) if deadline is not None else None
    if watchdog is not None:
        watchdog.daemon = True
        watchdog.start()
    try:
        _authenticate(transport, settings, key)
        session = SftpSession(settings, transport, _open_sftp(transport, settings))
        try:
            yield session
        finally:
            session.close()
    finally:
        if watchdog is not None:
            watchdog.cancel()
        transport.close()


__all__ = ["Download", "RemoteEntry", "SftpSession", "connect"]
