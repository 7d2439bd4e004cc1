"""Invalid settings stop the process with a message naming the variable."""

from __future__ import annotations

import pytest

from libs.db.crypto import generate_key
from libs.settings import AppEnv, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "DATABASE_URL",
        "REDIS_URL",
        "PORT",
        "APP_ENV",
        "NODE_ENV",
        "MAX_CONCURRENT_SYNCS",
        "SYNC_LOCK_TIMEOUT",
        "CONFIG_ENCRYPTION_KEYS",
        "AUTH_JWT_SECRET",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "HOST",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("APP_ENV", "test")


@pytest.mark.parametrize(
    ("name", "value", "fragment"),
    [
        ("MAX_CONCURRENT_SYNCS", "abc", "valid integer"),
        ("MAX_CONCURRENT_SYNCS", "0", "greater than or equal to 1"),
        ("SYNC_LOCK_TIMEOUT", "10", "greater than or equal to 1000"),
        ("PORT", "70000", "less than or equal to 65535"),
        ("APP_ENV", "staging", "production"),
        ("LOG_LEVEL", "loud", "debug"),
        ("LOG_FORMAT", "xml", "json"),
        ("DATABASE_URL", "mysql://x", "postgresql://"),
        ("REDIS_URL", "http://x", "redis://"),
        ("CONFIG_ENCRYPTION_KEYS", "c2hvcnQ", "32 bytes"),
        ("CONFIG_ENCRYPTION_KEYS", "not base64!", "base64"),
    ],
)
def test_invalid_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, fragment: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert name in str(info.value)
    assert fragment in str(info.value)


def test_key_values_are_not_echoed_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONFIG_ENCRYPTION_KEYS", "not-a-real-key-but-secret")
    with pytest.raises(SettingsError) as info:
        load_settings()
    assert "not-a-real-key-but-secret" not in str(info.value)


def test_production_refuses_to_start_without_keys_and_jwt_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    with pytest.raises(SettingsError, match="CONFIG_ENCRYPTION_KEYS"):
        load_settings()
    monkeypatch.setenv("CONFIG_ENCRYPTION_KEYS", generate_key())
    with pytest.raises(SettingsError, match="AUTH_JWT_SECRET"):
        load_settings()
    monkeypatch.setenv("AUTH_JWT_SECRET", "s" * 40)
    assert load_settings().app_env is AppEnv.PRODUCTION


def test_defaults_follow_the_spec() -> None:
    settings = load_settings()
    assert (settings.port, settings.host, settings.max_concurrent_syncs, settings.sync_lock_timeout) == (
        3000,
        "0.0.0.0",
        2,
        1_800_000,
    )
    assert settings.log_level.value == "info"


def test_several_keys_first_is_primary(monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = generate_key(), generate_key()
    monkeypatch.setenv("CONFIG_ENCRYPTION_KEYS", f"{first}, {second}")
    settings = load_settings()
    assert settings.config_encryption_keys == (first, second)
    assert len(settings.encryption_keys) == 2


def test_secrets_are_not_in_the_settings_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    key = generate_key()
    monkeypatch.setenv("CONFIG_ENCRYPTION_KEYS", key)
    monkeypatch.setenv("AUTH_JWT_SECRET", "jwt-secret-value")
    text = repr(load_settings())
    assert key not in text
    assert "jwt-secret-value" not in text


def test_node_env_is_another_name_for_app_env_and_app_env_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV")
    monkeypatch.setenv("NODE_ENV", "development")
    assert load_settings().app_env is AppEnv.DEVELOPMENT
    # an argument still wins over the environment, as for every other setting
    assert load_settings(app_env="test").app_env is AppEnv.TEST
    monkeypatch.setenv("APP_ENV", "test")
    assert load_settings().app_env is AppEnv.TEST
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("NODE_ENV", "test")
    with pytest.raises(SettingsError, match="CONFIG_ENCRYPTION_KEYS"):
        load_settings()
    monkeypatch.delenv("APP_ENV")
    monkeypatch.setenv("NODE_ENV", "staging")
    with pytest.raises(SettingsError, match="NODE_ENV"):
        load_settings()
