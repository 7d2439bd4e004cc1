"""The registry maps provider types to connectors and validates configs without leaking them."""

from __future__ import annotations

import pytest

from libs.connectors.errors import ConfigError
from libs.connectors.registry import parse_config
from libs.enums import ProviderType


def test_a_rejected_config_does_not_carry_its_secret_values() -> None:
    config = {
        "sftp": {"host": "sftp.example.org", "username": "u", "password": "s3cret-pass-123", "port": "not-a-port"},
        "remotePath": "/exports",
        "hostKeyFingerprint": "SHA256:" + "A" * 43,
    }
    with pytest.raises(ConfigError) as info:
        parse_config(ProviderType.ONEROSTER_CSV, config)
    assert "sftp.port" in info.value.message
    assert "s3cret-pass-123" not in repr(info.value.details)
    assert "s3cret-pass-123" not in info.value.message
