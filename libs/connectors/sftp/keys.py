"""Private keys and host key fingerprints, without ever putting key material in a message."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import stat
from dataclasses import dataclass
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


def fingerprint(key: paramiko.PKey) -> str:
    """The SHA256 fingerprint in the form `ssh-keygen -lf` prints (base64, no padding)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


def parse_private_key(text: str, passphrase: str | None = None) -> paramiko.PKey:
    """An RSA, ECDSA or Ed25519 key from its PEM or OpenSSH text.

    Raises ValueError whose message is a predicate ("is encrypted: ...") for the caller to prefix
    with what it read; it never contains key material.
    """
    data = text.strip().encode("utf-8") + b"\n"
    secret = passphrase.encode("utf-8") if passphrase else None
    loaded: object
    try:
        try:
            loaded = serialization.load_ssh_private_key(data, password=secret)
        except ValueError:
            loaded = serialization.load_pem_private_key(data, password=secret)
    except TypeError:
        # cryptography says TypeError for "encrypted but no password" and the reverse
        raise ValueError(
            "is encrypted: give privateKeyPassphrase"
            if secret is None
            else "is not encrypted: remove privateKeyPassphrase"
        ) from None
    except ValueError:
        raise ValueError(
            "is not a readable private key (expected an OpenSSH or PEM RSA, ECDSA or Ed25519 key, "
            "or the passphrase is wrong)"
        ) from None
    key_class: type[paramiko.PKey]
    if isinstance(loaded, rsa.RSAPrivateKey):
        key_class = paramiko.RSAKey
    elif isinstance(loaded, ed25519.Ed25519PrivateKey):
        key_class = paramiko.Ed25519Key
    elif isinstance(loaded, ec.EllipticCurvePrivateKey):
        key_class = paramiko.ECDSAKey
    else:
        raise ValueError("has an unsupported key type (use RSA, ECDSA or Ed25519)")
    try:
        return key_class.from_private_key(io.StringIO(data.decode("utf-8")), password=passphrase)
    except (paramiko.SSHException, ValueError):
        raise ValueError("is not a readable private key") from None


# a private key is a few KiB; anything larger is not one (and must not be read into memory)
KEY_FILE_LIMIT = 64 * 1024
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_NOCTTY | os.O_CLOEXEC


@dataclass(frozen=True)
class KeyFolder:
    """SFTP_KEY_DIR/<tenantId>/: the one folder whose files a tenant's privateKeyPath may name.

    `root` None means the deployment has no key folder (SFTP_KEY_DIR unset): key paths are refused.
    """

    root: Path | None
    tenant_id: str

    def refusal(self, path: str) -> str:
        """The one message for every path this tenant may not use, whether or not the file exists."""
        if self.root is None:
            return "privateKeyPath cannot be used here: SFTP_KEY_DIR is not set; give privateKey or password instead"
        return (
            f"privateKeyPath {path} is not a key file this tenant may use: it must name a regular file of at most "
            f"64 KiB inside the tenant's key folder (SFTP_KEY_DIR/{self.tenant_id}/)"
        )

    def locate(self, path: str) -> str:
        """The real path (symlinks resolved) of `path` when it lies inside the folder; ValueError otherwise.

        `path` is relative to the folder, or absolute and inside it. Nothing is opened here.
        """
        tenant = self.tenant_id
        if self.root is None or not tenant or tenant in (".", "..") or "/" in tenant or "\0" in tenant:
            raise ValueError(self.refusal(path))
        try:
            base = os.path.realpath(os.path.join(self.root, tenant))
            real = os.path.realpath(path if os.path.isabs(path) else os.path.join(base, path))
        except (OSError, ValueError):
            raise ValueError(self.refusal(path)) from None
        if not real.startswith(base + os.sep):
            raise ValueError(self.refusal(path))
        return real


def read_key_file(path: str, refusal: str) -> bytes:
    """At most KEY_FILE_LIMIT bytes of a regular file; ValueError(refusal) for anything else.

    Every failure (missing, unreadable, not a regular file, too large) raises the same `refusal`,
    so the answer tells nothing about what exists. A FIFO, device or /dev/zero is never read:
    the path must stat as a regular file, is opened non-blocking (a FIFO does not wait for a
    writer) without following a symlink swapped in since, and is read to the limit plus one byte.
    """
    try:
        real = os.path.realpath(path)
        if not stat.S_ISREG(os.stat(real).st_mode):
            raise ValueError(refusal)
        fd = os.open(real, _OPEN_FLAGS)
    except (OSError, ValueError):
        raise ValueError(refusal) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > KEY_FILE_LIMIT:
            raise ValueError(refusal)
        data = b""
        while len(data) <= KEY_FILE_LIMIT:
            chunk = os.read(fd, KEY_FILE_LIMIT + 1 - len(data))
            if not chunk:
                break
            data += chunk
    except OSError:
        raise ValueError(refusal) from None
    finally:
        os.close(fd)
    if len(data) > KEY_FILE_LIMIT:
        raise ValueError(refusal)
    return data


def read_private_key(path: str, passphrase: str | None = None, *, folder: KeyFolder | None = None) -> paramiko.PKey:
    """The key in a file on this machine; errors name the path, never the content.

    With a `folder` (what connectors always pass) the path must lie inside it; without one (tools
    and tests calling the SFTP plumbing directly) any regular file of at most 64 KiB is read.
    """
    if folder is not None:
        refusal = folder.refusal(path)
        located = folder.locate(path)
    else:
        refusal = f"privateKeyPath {path} is not a readable key file: it must name a regular file of at most 64 KiB"
        located = path
    data = read_key_file(located, refusal)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"privateKeyPath {path} is not a readable private key (it is not text)") from None
    try:
        return parse_private_key(text, passphrase)
    except ValueError as exc:
        raise ValueError(f"privateKeyPath {path} {exc}") from None


__all__ = ["KEY_FILE_LIMIT", "KeyFolder", "fingerprint", "parse_private_key", "read_key_file", "read_private_key"]
