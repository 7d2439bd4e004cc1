"""The provider rules called directly (no API) on a real database."""

from __future__ import annotations

import copy
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, text

from libs.auth import Principal, Role
from libs.connectors import registry
from libs.db.crypto import ConfigCipher
from libs.db.dev_secrets import config_cipher
from libs.enums import ProviderType
from libs.providers import configs, rules, store
from libs.providers.errors import InvalidProvider, ProviderNotFound, SyncActive
from libs.providers.store import StoredProvider
from libs.settings import Settings
from tests.api.fake_connectors import CONFIGS, SECRETS, TARGETS
from tests.support.providers import request

TENANT = "district-r"
ADMIN = Principal(subject="admin@r", roles=frozenset({Role.DISTRICT_ADMIN}), tenant_id=TENANT)


@pytest.fixture
def cipher(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> ConfigCipher:
    monkeypatch.setattr(registry, "_CONNECTORS", dict(TARGETS))
    return config_cipher(settings)


def _create(db: Engine, cipher: ConfigCipher, **fields: Any) -> StoredProvider:
    values: dict[str, Any] = {
        "tenant_id": TENANT,
        "provider_type": ProviderType.ONEROSTER_API,
        "name": "OneRoster",
        "config": copy.deepcopy(CONFIGS[ProviderType.ONEROSTER_API]),
        "sync_schedule": "daily",
        **fields,
    }
    with db.begin() as conn:
        return rules.create(conn, cipher, ADMIN, **values)


def _count(db: Engine, sql: str) -> int:
    with db.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def _audit(db: Engine) -> list[Any]:
    with db.connect() as conn:
        sql = "SELECT actor, action, tenant_id, target_id, details FROM audit_log ORDER BY id"
        return list(conn.execute(text(sql)).all())


def test_create_seals_the_config_and_writes_one_audit_entry_without_secrets(db: Engine, cipher: ConfigCipher) -> None:
    provider = _create(db, cipher)
    assert SECRETS["oneroster"].encode() not in provider.config_ciphertext
    assert configs.config_of(cipher, provider) == CONFIGS[ProviderType.ONEROSTER_API]
    assert provider.sync_schedule == "0 2 * * *"
    [entry] = _audit(db)
    assert (entry.actor, entry.action, entry.tenant_id) == ("admin@r", "provider.created", TENANT)
    assert entry.details["config"]["clientSecret"] == "********"
    assert SECRETS["oneroster"] not in str(entry.details)


def test_create_with_an_invalid_config_raises_its_field_errors_and_writes_nothing(
    db: Engine, cipher: ConfigCipher
) -> None:
    config = {"baseUrl": "ftp://nowhere", "clientSecret": "s"}
    values = {"tenant_id": TENANT, "provider_type": ProviderType.ONEROSTER_API, "name": "OneRoster"}
    with db.connect() as conn:
        with pytest.raises(InvalidProvider) as raised:
            rules.create(conn, cipher, ADMIN, config=config, **values)
        conn.commit()  # whatever the refused call wrote would stay
    assert sorted(e["loc"] for e in raised.value.errors) == [("config", "baseUrl"), ("config", "clientId")]
    assert _count(db, "SELECT count(*) FROM sis_providers") == 0
    assert _count(db, "SELECT count(*) FROM audit_log") == 0


def test_create_names_a_bad_schedule_and_a_bad_zone_together(db: Engine, cipher: ConfigCipher) -> None:
    with pytest.raises(InvalidProvider) as raised:
        _create(db, cipher, sync_schedule="every tuesday", schedule_timezone="Mars/Olympus")
    assert [e["loc"] for e in raised.value.errors] == [("syncSchedule",), ("scheduleTimezone",)]
    assert _count(db, "SELECT count(*) FROM sis_providers") == 0


def test_an_update_that_changes_the_schedule_counts_the_next_run_from_now(db: Engine, cipher: ConfigCipher) -> None:
    provider = _create(db, cipher, schedule_timezone="UTC")
    assert provider.next_run_at is not None
    assert provider.next_run_at.hour == 2
    with db.begin() as conn:
        renamed = rules.update(conn, cipher, store.get(conn, provider.id, lock=True), {"name": "Renamed"}, ADMIN)
    assert renamed.next_run_at == provider.next_run_at
    before = datetime.now(UTC)
    with db.begin() as conn:
        current = store.get(conn, provider.id, lock=True)
        changed = rules.update(conn, cipher, current, {"sync_schedule": "30 6 * * *"}, ADMIN)
    assert changed.sync_schedule == "30 6 * * *"
    assert changed.next_run_at is not None
    assert (changed.next_run_at.hour, changed.next_run_at.minute) == (6, 30)
    assert before < changed.next_run_at <= before + timedelta(days=1)
    with db.connect() as conn:
        assert store.get(conn, provider.id).next_run_at == changed.next_run_at
    details = {"changed": ["syncSchedule"], "syncSchedule": "30 6 * * *", "scheduleTimezone": "UTC"}
    assert _audit(db)[-1].details == details
    with db.begin() as conn:
        disabled = rules.update(conn, cipher, store.get(conn, provider.id, lock=True), {"enabled": False}, ADMIN)
    assert disabled.next_run_at is None


def test_an_update_keeps_the_stored_secret_that_it_sends_back_masked(db: Engine, cipher: ConfigCipher) -> None:
    provider = _create(db, cipher)
    edit = {**CONFIGS[ProviderType.ONEROSTER_API], "clientId": "new-client", "clientSecret": "********"}
    with db.begin() as conn:
        changed = rules.update(conn, cipher, store.get(conn, provider.id, lock=True), {"config": edit}, ADMIN)
    assert configs.config_of(cipher, changed) == {**CONFIGS[ProviderType.ONEROSTER_API], "clientId": "new-client"}


def test_an_update_that_names_nothing_writes_nothing(db: Engine, cipher: ConfigCipher) -> None:
    provider = _create(db, cipher)
    with db.begin() as conn:
        same = rules.update(conn, cipher, store.get(conn, provider.id, lock=True), {}, ADMIN)
    assert same.updated_at == provider.updated_at
    assert len(_audit(db)) == 1


def test_delete_writes_one_audit_entry_and_deactivates_the_providers_entities(db: Engine, cipher: ConfigCipher) -> None:
    provider = _create(db, cipher)
    school = uuid.uuid4()
    with db.begin() as conn:
        conn.execute(
            text("INSERT INTO schools (id, tenant_id, name) VALUES (:id, :t, 'S')"), {"id": school, "t": TENANT}
        )
        conn.execute(
            text(
                "INSERT INTO sis_entity_links (provider_id, entity_type, external_id, entity_id) "
                "VALUES (:p, 'school', 'ext-s', :id)"
            ),
            {"p": provider.id, "id": school},
        )
    with db.begin() as conn:
        counts = rules.delete(conn, store.get(conn, provider.id, lock=True), ADMIN, deactivate_entities=True)
    assert counts is not None
    assert (counts["links"], counts["schools"], counts["users"]) == (1, 1, 0)
    assert _count(db, f"SELECT count(*) FROM schools WHERE active AND id = '{school}'") == 0
    with db.connect() as conn:
        deleted = store.get(conn, provider.id)
    assert deleted.deleted_at is not None
    assert (deleted.enabled, deleted.next_run_at) == (False, None)
    entries = [e for e in _audit(db) if e.action == "provider.deleted"]
    assert [(e.target_id, e.details) for e in entries] == [
        (str(provider.id), {"name": "OneRoster", "deactivateEntities": True, "deactivated": counts})
    ]


def test_delete_is_refused_while_a_sync_is_active_and_changes_nothing(db: Engine, cipher: ConfigCipher) -> None:
    provider = _create(db, cipher)
    run = request(db, provider.id)
    with pytest.raises(SyncActive) as raised, db.begin() as conn:
        rules.delete(conn, store.get(conn, provider.id, lock=True), ADMIN, deactivate_entities=False)
    assert raised.value.run_id == run.run_id
    with db.connect() as conn:
        assert store.get(conn, provider.id).deleted_at is None
    assert [e.action for e in _audit(db)] == ["provider.created"]


def test_reading_a_provider_that_does_not_exist_is_provider_not_found(db: Engine) -> None:
    with db.connect() as conn, pytest.raises(ProviderNotFound):
        store.get(conn, uuid.uuid4())


def test_the_provider_rules_load_without_the_api_or_the_queue() -> None:
    code = (
        "import sys, libs.providers.rules, libs.audit; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'services', 'dramatiq', 'starlette'}))"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root)
    assert done.stdout.strip() == "[]"
