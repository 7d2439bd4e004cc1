"""Private keys and host key fingerprints, without ever putting key material in a message."""

from __future__ import annotations

import base64
import hashlib
import io
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


def read_private_key(path: str, passphrase: str | None = None) -> paramiko.PKey:
    """The key in a file on this machine; errors name the path, never the content."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ValueError(f"privateKeyPath {path} does not exist on this worker") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"privateKeyPath {path} cannot be read ({type(exc).__name__})") from None
    try:
        return parse_private_key(text, passphrase)
    except ValueError as exc:
        raise ValueError(f"privateKeyPath {path} {exc}") from None


__all__ = ["fingerprint", "parse_private_key", "read_private_key"]
