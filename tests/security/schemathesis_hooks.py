"""Schemathesis hooks (SCHEMATHESIS_HOOKS) for tests/security/test_openapi_schemathesis.py.

- the document's `ssh-private-key` format: a real key, as a client would send one (in valid
  cases of every phase too, with no passphrase or key file beside it, where no secret is given);
- a changed config (PATCH, test with edits) of a seeded provider goes to the seeded provider of
  its type, the one whose shape it has (the document says a config change has its provider's
  shape); when it moves
  a destination field it carries the seeded secrets it leaves out, as a client must (a stored
  secret never follows a changed destination, a rule of stored state the document cannot state:
  docs/security.md "Stored secrets stay with their destination");
- after each call that may change them (but a DELETE) the seeded providers are restored and
  their runs ended: a fuzzed DELETE or PATCH does not starve the operations after it, and a
  sync can start again.
"""

from __future__ import annotations

import json
import os
from typing import Any

import psycopg
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import strategies as st

from libs.enums import ProviderType
from libs.providers import configs, masking

PROVIDERS: dict[str, str] = json.loads(os.environ["FUZZ_PROVIDERS"])
SEEDS: dict[str, dict[str, Any]] = json.loads(os.environ["FUZZ_SEEDS"])
_KEYS = [
    ed25519.Ed25519PrivateKey.generate()
    .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    .decode()
    for _ in range(3)
]
_CONFIG_TARGETS = {"/api/v1/providers/{providerId}", "/api/v1/providers/{providerId}/test"}

schemathesis.openapi.format("ssh-private-key", st.sampled_from(_KEYS))


def _provider_type(config: dict[str, Any]) -> str:
    # the keys each type's shape requires, and no other shape allows
    for key, provider_type in (("districtId", "CLEVER"), ("tenantId", "CLASSLINK"), ("baseUrl", "ONEROSTER_API")):
        if key in config:
            return provider_type
    return "ONEROSTER_CSV"


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    config = case.body.get("config") if isinstance(case.body, dict) else None
    sftp = config.get("sftp") if isinstance(config, dict) else None
    meta = getattr(case, "meta", None)
    if isinstance(sftp, dict) and (meta is None or meta.generation.mode.value == "positive"):
        # what a key is, the document cannot say (its format names it): a real key, no passphrase
        # for it, no key file (whose presence is the deployment's; test_key_files.py), and a key
        # where no secret is given (the mask or null keep what is stored, which may be nothing)
        credentials = [sftp.get(k) for k in ("password", "privateKey")]
        if sftp.get("privateKey") is not None or not any(isinstance(c, str) and c != masking.MASK for c in credentials):
            sftp["privateKey"] = _KEYS[0]
        sftp.pop("privateKeyPassphrase", None)
        sftp.pop("privateKeyPath", None)
    seeded = (case.path_parameters or {}).get("providerId") in PROVIDERS.values()
    if case.operation.path in _CONFIG_TARGETS and seeded and isinstance(config, dict):
        provider_type = _provider_type(config)
        case.path_parameters = {**case.path_parameters, "providerId": PROVIDERS[provider_type]}
        _retype_secrets(provider_type, config, SEEDS[provider_type])
    return case


def _retype_secrets(provider_type: str, config: dict[str, Any], seed: dict[str, Any]) -> None:
    model = configs.config_model(ProviderType(provider_type))
    assert model is not None
    if all(masking.value_at(config, p) in (None, masking.value_at(seed, p)) for p in model.destination_fields):
        return
    for path in model.secret_fields:
        *parents, leaf = path.split(".")
        node: Any = config
        for key in parents:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(leaf) in (None, masking.MASK):
            # a valid case of an earlier call may have stored a key beside the seeded password
            node[leaf] = _KEYS[0] if leaf == "privateKey" else masking.value_at(seed, path)
            if node[leaf] is None:  # not stored: nothing to enter again
                del node[leaf]


_DB = psycopg.connect(os.environ["FUZZ_DATABASE_URL"], autocommit=True)


@schemathesis.hook
def after_call(context: Any, case: Any, response: Any) -> None:
    # not after a DELETE: what it deleted stays gone for the reads that check it (use_after_free)
    if case.method.upper() in ("GET", "DELETE"):
        return
    ids = list(PROVIDERS.values())
    _DB.execute("UPDATE sis_providers SET enabled = true, deleted_at = NULL WHERE id = ANY(%s::uuid[])", [ids])
    _DB.execute(
        "UPDATE sis_sync_runs SET status = 'CANCELLED', completed_at = now(), lease_token = NULL "
        "WHERE provider_id = ANY(%s::uuid[]) AND status IN ('PENDING', 'IN_PROGRESS')",
        [ids],
    )
