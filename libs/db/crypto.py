"""Encryption of provider configs at rest.

A config is JSON sealed with AES-256-GCM. The provider id is the associated data, so a
ciphertext copied onto another provider's row fails authentication instead of handing that
provider someone else's credentials. Each ciphertext names the key that sealed it (an 8-byte
fingerprint), which lets several keys coexist during a rotation: the first key in
CONFIG_ENCRYPTION_KEYS seals, every listed key opens.

Layout: b"\\x01" | key fingerprint (8) | nonce (12) | ciphertext + tag (16).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_VERSION = b"\x01"
_FINGERPRINT_LEN = 8
_NONCE_LEN = 12


class DecryptionError(Exception):
    """The ciphertext is not for this row, was tampered with, or its key is not configured."""


def generate_key() -> str:
    """A new url-safe base64 AES-256 key, as CONFIG_ENCRYPTION_KEYS expects it."""
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def _fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"sis-sync-config-key:" + key).digest()[:_FINGERPRINT_LEN]


@dataclass(frozen=True)
class ConfigCipher:
    """Seals and opens provider configs with a primary key and any number of older keys."""

    keys: Sequence[bytes]

    def __post_init__(self) -> None:
        if not self.keys:
            raise ValueError("at least one encryption key is required")
        for key in self.keys:
            if len(key) != 32:
                raise ValueError("encryption keys must be 32 bytes")

    @property
    def primary_fingerprint(self) -> bytes:
        return _fingerprint(self.keys[0])

    def encrypt(self, config: dict[str, Any], *, provider_id: str) -> bytes:
        plaintext = json.dumps(config, separators=(",", ":"), sort_keys=True).encode("utf-8")
        nonce = os.urandom(_NONCE_LEN)
        sealed = AESGCM(self.keys[0]).encrypt(nonce, plaintext, _aad(provider_id))
        return _VERSION + self.primary_fingerprint + nonce + sealed

    def decrypt(self, blob: bytes, *, provider_id: str) -> dict[str, Any]:
        blob = bytes(blob)
        if len(blob) < 1 + _FINGERPRINT_LEN + _NONCE_LEN + 16 or blob[:1] != _VERSION:
            raise DecryptionError("unrecognised config ciphertext")
        fingerprint = blob[1 : 1 + _FINGERPRINT_LEN]
        nonce = blob[1 + _FINGERPRINT_LEN : 1 + _FINGERPRINT_LEN + _NONCE_LEN]
        sealed = blob[1 + _FINGERPRINT_LEN + _NONCE_LEN :]
        key = next((k for k in self.keys if _fingerprint(k) == fingerprint), None)
        if key is None:
            raise DecryptionError("config was sealed with a key that is not in CONFIG_ENCRYPTION_KEYS")
        try:
            plaintext = AESGCM(key).decrypt(nonce, sealed, _aad(provider_id))
        except InvalidTag:
            raise DecryptionError("config ciphertext does not belong to this provider or was altered") from None
        value = json.loads(plaintext)
        if not isinstance(value, dict):
            raise DecryptionError("config is not a JSON object")
        return value

    def needs_rotation(self, blob: bytes) -> bool:
        return bytes(blob)[1 : 1 + _FINGERPRINT_LEN] != self.primary_fingerprint

    def reencrypt(self, blob: bytes, *, provider_id: str) -> bytes:
        return self.encrypt(self.decrypt(blob, provider_id=provider_id), provider_id=provider_id)


def _aad(provider_id: str) -> bytes:
    return b"sis_providers.config:" + str(provider_id).encode("utf-8")
