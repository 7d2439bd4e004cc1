"""Provider configs are stored only as ciphertext bound to their row, under rotatable keys."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from sqlalchemy import Engine, text

from libs.db.crypto import ConfigCipher, DecryptionError, generate_key
from libs.db.keys import rotate_config_keys
from libs.enums import ProviderType
from libs.etl.context import EtlContext
from libs.etl.providers import load_run
from libs.settings import Settings, decode_key
from tests.support.providers import create_provider, request

SECRET_CONFIG = {"clientId": "abc", "clientSecret": "very-secret-value-123", "districtId": "d1"}


def cipher(*keys: str) -> ConfigCipher:
    return ConfigCipher([decode_key(k) for k in keys])


def test_round_trip() -> None:
    c = cipher(generate_key())
    blob = c.encrypt(SECRET_CONFIG, provider_id="p1")
    assert c.decrypt(blob, provider_id="p1") == SECRET_CONFIG
    assert b"very-secret" not in blob


def test_ciphertext_copied_to_another_provider_does_not_decrypt() -> None:
    c = cipher(generate_key())
    blob = c.encrypt(SECRET_CONFIG, provider_id="p1")
    with pytest.raises(DecryptionError, match="does not belong"):
        c.decrypt(blob, provider_id="p2")


def test_tampered_ciphertext_is_rejected() -> None:
    c = cipher(generate_key())
    blob = bytearray(c.encrypt(SECRET_CONFIG, provider_id="p1"))
    blob[-1] ^= 1
    with pytest.raises(DecryptionError):
        c.decrypt(bytes(blob), provider_id="p1")


def test_unknown_key_is_named_as_the_problem() -> None:
    blob = cipher(generate_key()).encrypt(SECRET_CONFIG, provider_id="p1")
    with pytest.raises(DecryptionError, match="not in CONFIG_ENCRYPTION_KEYS"):
        cipher(generate_key()).decrypt(blob, provider_id="p1")


def test_old_keys_still_open_and_primary_seals() -> None:
    old, new = generate_key(), generate_key()
    blob = cipher(old).encrypt(SECRET_CONFIG, provider_id="p1")
    rotated = cipher(new, old)
    assert rotated.decrypt(blob, provider_id="p1") == SECRET_CONFIG
    assert rotated.needs_rotation(blob)
    resealed = rotated.reencrypt(blob, provider_id="p1")
    assert not rotated.needs_rotation(resealed)
    assert cipher(new).decrypt(resealed, provider_id="p1") == SECRET_CONFIG


def _insert(db: Engine, c: ConfigCipher, provider_id: uuid.UUID) -> None:
    with db.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO sis_providers (id, tenant_id, provider_type, name, config_ciphertext) "
                "VALUES (:id, 't1', 'CLEVER', 'Clever', :c)"
            ),
            {"id": provider_id, "c": c.encrypt(SECRET_CONFIG, provider_id=str(provider_id))},
        )


def test_plaintext_never_appears_in_the_table(db: Engine, database_url: str) -> None:
    c = cipher(generate_key())
    _insert(db, c, uuid.uuid4())
    with psycopg.connect(database_url) as conn:
        # the whole row as text, every column, as a dump would see it
        dumped = conn.execute("SELECT t::text FROM sis_providers t").fetchone()
        bytes_dump = conn.execute("SELECT config_ciphertext FROM sis_providers").fetchone()
    assert dumped is not None
    assert bytes_dump is not None
    for secret in ("very-secret-value-123", "clientSecret"):
        assert secret not in dumped[0]
        assert secret.encode() not in bytes(bytes_dump[0])
        assert secret.encode().hex() not in dumped[0]


def test_rotate_keys_reseals_every_row_under_the_primary(db: Engine) -> None:
    old, new = generate_key(), generate_key()
    ids = [uuid.uuid4() for _ in range(3)]
    for provider_id in ids:
        _insert(db, cipher(old), provider_id)
    result = rotate_config_keys(db, cipher(new, old), actor="test")
    assert (result.total, result.rotated) == (3, 3)
    with db.connect() as conn:
        rows = conn.execute(text("SELECT id, config_ciphertext FROM sis_providers")).all()
        audit = conn.execute(text("SELECT action, details FROM audit_log")).all()
    for row in rows:
        # the old key is no longer needed
        assert cipher(new).decrypt(row.config_ciphertext, provider_id=str(row.id)) == SECRET_CONFIG
    assert [(a.action, a.details) for a in audit] == [("keys.rotated", {"total": 3, "rotated": 3})]
    assert "very-secret" not in json.dumps(audit[0].details)
    # a second rotation has nothing left to do
    assert rotate_config_keys(db, cipher(new, old), actor="test").rotated == 0


def test_a_config_copied_onto_another_providers_row_does_not_open_for_a_run(db: Engine, settings: Settings) -> None:
    config_a = {"clientId": "a", "clientSecret": "secret-of-district-a", "districtId": "da"}
    config_b = {"clientId": "b", "clientSecret": "secret-of-district-b", "districtId": "db"}
    a = create_provider(db, settings, provider_type=ProviderType.CLEVER, config=config_a, tenant_id="district-a")
    b = create_provider(db, settings, provider_type=ProviderType.CLEVER, config=config_b, tenant_id="district-b")
    run_a, run_b = request(db, a).run_id, request(db, b).run_id
    ctx = EtlContext.from_settings(settings)
    try:
        with db.connect() as conn:
            # both open on their own rows, so the failure below is the copy's doing
            assert load_run(conn, run_a).decrypt(ctx.cipher) == config_a
            assert load_run(conn, run_b).decrypt(ctx.cipher) == config_b
        with db.begin() as conn:
            conn.execute(
                text(
                    "UPDATE sis_providers SET config_ciphertext = "
                    "(SELECT config_ciphertext FROM sis_providers WHERE id = :a) WHERE id = :b"
                ),
                {"a": a, "b": b},
            )
        with db.connect() as conn, pytest.raises(DecryptionError, match="does not belong to this provider"):
            # what every phase that talks to the source opens first: B's run must never get A's credentials
            load_run(conn, run_b).decrypt(ctx.cipher)
        with db.connect() as conn:
            assert load_run(conn, run_a).decrypt(ctx.cipher) == config_a
    finally:
        if ctx.redis is not None:
            ctx.redis.close()
