"""Schemathesis hooks (SCHEMATHESIS_HOOKS) for tests/security/test_openapi_schemathesis.py.

- the document's `ssh-private-key` format: a real key, as a client would send one;
- a changed config (PATCH, test with edits) goes to the seeded provider of its type, the one
  whose shape it has (the document says a config change has its provider's shape);
- before every call the seeded providers are restored (a fuzzed DELETE or PATCH does not starve
  the operations after it) and their runs ended, so a sync can start again.
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

PROVIDERS: dict[str, str] = json.loads(os.environ["FUZZ_PROVIDERS"])
_DATABASE_URL = os.environ["FUZZ_DATABASE_URL"]
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
    seeded = (case.path_parameters or {}).get("providerId") in PROVIDERS.values()
    if case.operation.path in _CONFIG_TARGETS and seeded and isinstance(config, dict):
        case.path_parameters = {**case.path_parameters, "providerId": PROVIDERS[_provider_type(config)]}
    return case


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    with psycopg.connect(_DATABASE_URL, autocommit=True) as conn:
        ids = list(PROVIDERS.values())
        conn.execute("UPDATE sis_providers SET enabled = true, deleted_at = NULL WHERE id = ANY(%s::uuid[])", [ids])
        conn.execute(
            "UPDATE sis_sync_runs SET status = 'CANCELLED', completed_at = now(), lease_token = NULL "
            "WHERE provider_id = ANY(%s::uuid[]) AND status IN ('PENDING', 'IN_PROGRESS')",
            [ids],
        )
