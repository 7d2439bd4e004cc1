"""A provider config no configured key opens ends the run FAILURE at once, in every phase."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from sqlalchemy import Engine, text

from libs.db.crypto import ConfigCipher, generate_key
from libs.enums import RunKind, SyncStatus
from libs.etl.phase import Phase, start_sync
from libs.etl.pipeline import PHASES, SPECS
from libs.settings import decode_key
from tests.etl.conftest import Driver
from tests.etl.district import SmallDistrict
from tests.etl.memory import Dataset
from tests.support.providers import request, run_row

MakeProvider = Callable[..., tuple[uuid.UUID, Dataset]]

UNKNOWN_KEY = (
    "The provider's config cannot be decrypted: config was sealed with a key that is not in "
    "CONFIG_ENCRYPTION_KEYS; CONFIG_ENCRYPTION_KEYS must include the key it was saved with"
)


def _other_key() -> ConfigCipher:
    return ConfigCipher([decode_key(generate_key())])


# the phases a sync goes through (an undo's phase has its own tests: tests/e2e/test_undo.py)
SYNC_PHASES = [s.phase for s in PHASES if RunKind.SYNC in s.kinds]


@pytest.mark.parametrize("phase", SYNC_PHASES, ids=[p.value for p in SYNC_PHASES])
def test_a_config_sealed_with_a_key_the_worker_lacks_fails_the_run_where_the_config_is_opened(
    driver: Driver, make_provider: MakeProvider, db: Engine, phase: Phase
) -> None:
    provider_id, _ = make_provider(SmallDistrict(students=2).records())
    run_id = request(db, provider_id).run_id
    pending = driver.drain([start_sync(run_id)], stop_before=phase.actor)
    assert [m.actor for m in pending[:1]] == [phase.actor]
    sealed_with = driver.ctx.cipher
    driver.ctx.cipher = _other_key()

    if SPECS[phase].needs_config:
        assert driver.deliver(pending[0]) == []
    else:
        # the set-based phases never decrypt the config: they go on, and the next phase that
        # talks to the source (finalize asks the connector for its bookmark) ends the run
        moved_on = driver.deliver(pending[0])
        assert moved_on
        assert run_row(db, run_id)["status"] == SyncStatus.IN_PROGRESS
        driver.drain(moved_on + pending[1:])
        assert driver.delivered[-1].actor == Phase.FINALIZE.actor

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.FAILURE
    assert run["error_message"] == UNKNOWN_KEY
    assert run["lease_token"] is None
    # the provider is free: a new request is a new run, and with the key back it syncs
    again = request(db, provider_id)
    assert again.created
    driver.ctx.cipher = sealed_with
    driver.drain([start_sync(again.run_id)])
    assert run_row(db, again.run_id)["status"] == SyncStatus.SUCCESS


def test_a_config_copied_from_another_provider_fails_the_run_without_showing_either(
    driver: Driver, make_provider: MakeProvider, db: Engine
) -> None:
    provider_id, _ = make_provider(SmallDistrict(students=2).records())
    other_id, _ = make_provider(SmallDistrict(students=2).records(), tenant_id="district-2")
    with db.begin() as conn:
        copied = conn.execute(
            text(
                "UPDATE sis_providers SET config_ciphertext = "
                "(SELECT config_ciphertext FROM sis_providers WHERE id = :o) WHERE id = :p "
                "RETURNING config_ciphertext"
            ),
            {"o": other_id, "p": provider_id},
        ).scalar_one()

    run_id = driver.sync(provider_id)

    run = run_row(db, run_id)
    assert run["status"] == SyncStatus.FAILURE
    assert run["error_message"] == (
        "The provider's config cannot be decrypted: config ciphertext does not belong to this provider "
        "or was altered; CONFIG_ENCRYPTION_KEYS must include the key it was saved with"
    )
    assert bytes(copied).hex() not in run["error_message"]
    # the run stopped at plan: nothing was extracted for it
    with db.connect() as conn:
        extracted = conn.execute(
            text("SELECT count(*) FROM sis_sync_run_steps WHERE run_id = :r AND status = 'done'"), {"r": run_id}
        ).scalar_one()
    assert extracted == 0
