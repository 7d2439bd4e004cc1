"""Schemathesis hooks (SCHEMATHESIS_HOOKS) for tests/security/test_openapi_schemathesis.py.

- the document's `ssh-private-key` format: a real key, as a client would send one (in valid
  cases of every phase too, with no passphrase or key file beside it, where no secret is given);
- a changed config (PATCH, test with edits) sent to a live provider of another type goes to the
  seeded provider of the config's type (`before_call`, so that stateful steps, whose providerId
  a link fills in, are covered too): a provider's type is stored state fixed at its creation,
  which the document cannot tie a body to, as it cannot say which ids exist; the server's 422
  for the mismatch is right (tests/api cover it);
- a change that moves a destination field carries the secrets it leaves out, as a client must
  (a stored secret never follows a changed destination, a rule of stored state the document
  cannot state: docs/security.md "Stored secrets stay with their destination");
- a valid webhook URL on an address the egress policy refuses (private, reserved, loopback,
  unspecified, as the server classifies it) gets a public name instead: the policy is the
  deployment's, not the document's;
- the coverage phase keeps COVERAGE_CASES_PER_DESCRIPTION cases per operation, description and
  mode (`filter_case`), generic for operations still to come;
- after each call that may change them (but a DELETE) the seeded providers are restored and
  their runs ended: a fuzzed DELETE or PATCH does not starve the operations after it, and a
  sync can start again.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

import psycopg
import schemathesis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import strategies as st

from libs.connectors import egress
from libs.connectors.errors import EgressRefused
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
_DB = psycopg.connect(os.environ["FUZZ_DATABASE_URL"], autocommit=True)
_CONFIG_TARGETS = {"/api/v1/providers/{providerId}", "/api/v1/providers/{providerId}/test"}

schemathesis.openapi.format("ssh-private-key", st.sampled_from(_KEYS))


def _provider_type(config: dict[str, Any]) -> str:
    # the keys each type's shape requires, and no other shape allows
    for key, provider_type in (("districtId", "CLEVER"), ("tenantId", "CLASSLINK"), ("baseUrl", "ONEROSTER_API")):
        if key in config:
            return provider_type
    return "ONEROSTER_CSV"


# coverage cases per operation, description and mode: the phase enumerates every value of an
# enum (600 time zones, in three operations) and every combination of the config shapes' optional
# fields; past the first few, more of one description test nothing new but take minutes
COVERAGE_CASES_PER_DESCRIPTION = 2
_coverage_seen: Counter[tuple[str, str, str]] = Counter()


@schemathesis.hook
def filter_case(context: Any, case: Any) -> bool:
    meta = getattr(case, "meta", None)
    if meta is None or meta.phase.name.value != "coverage":
        return True
    key = (case.operation.label, meta.phase.data.description, meta.generation.mode.value)
    _coverage_seen[key] += 1
    return _coverage_seen[key] <= COVERAGE_CASES_PER_DESCRIPTION


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
    return case


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    _reachable_url(case)
    # here, not in map_case: a stateful step fills providerId from a link after map_case
    config = case.body.get("config") if isinstance(case.body, dict) else None
    provider_id = (case.path_parameters or {}).get("providerId")
    if case.operation.path not in _CONFIG_TARGETS or not isinstance(config, dict) or provider_id is None:
        return
    provider_type = _provider_type(config)
    stored_type = _live_provider_type(provider_id)
    if stored_type is None:
        return  # no such live provider: its 404 is the answer to check
    if stored_type != provider_type:
        # a provider's type is fixed when it is created, and a change has its shape, which the
        # document cannot tie to the stored type: the change goes to the seeded one of its type
        case.path_parameters = {**case.path_parameters, "providerId": PROVIDERS[provider_type]}
        provider_id = PROVIDERS[provider_type]
    # one a stateful step created has a destination of its own, not the seed's: treat every
    # change as one that moves it
    _retype_secrets(provider_type, config, SEEDS[provider_type], seeded=provider_id in PROVIDERS.values())


def _reachable_url(case: Any) -> None:
    """A valid case's URL (a webhook's) on a host the egress policy lets it reach.

    The policy (docs/security.md, "Egress") refuses private, loopback and unspecified addresses
    at once, a rule of the deployment the document cannot state; names resolve to nothing here,
    which the server accepts (they may resolve later).
    """
    meta = getattr(case, "meta", None)
    url = case.body.get("url") if isinstance(case.body, dict) else None
    if not isinstance(url, str) or (meta is not None and meta.generation.mode.value != "positive"):
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        # the server's own reading of a host: numeric forms such as `0` or `127.1` are addresses
        literal = egress.literal_address(host)
    except EgressRefused:
        # a name whose last label is numeric (`a.0`) is read as a mistyped address; the
        # document's host grammar does not say so yet
        literal, refused = None, True
    else:
        refused = False
    if literal is not None:
        refused = egress.STRICT.refusal(literal) is not None
    elif not refused:
        # the only name the stubbed resolver answers (tests/security/conftest.py), with loopback
        refused = host.rstrip(".").lower() == "localhost"
    if not refused:
        return
    port = f":{parts.port}" if parts.port else ""
    case.body["url"] = parts._replace(netloc=f"hooks.example.org{port}").geturl()


def _live_provider_type(provider_id: str) -> str | None:
    row = _DB.execute(
        "SELECT provider_type FROM sis_providers WHERE id::text = %s AND deleted_at IS NULL", [provider_id]
    ).fetchone()
    return None if row is None else str(row[0])


def _retype_secrets(provider_type: str, config: dict[str, Any], seed: dict[str, Any], *, seeded: bool) -> None:
    model = configs.config_model(ProviderType(provider_type))
    assert model is not None
    if seeded and all(
        masking.value_at(config, p) in (None, masking.value_at(seed, p)) for p in model.destination_fields
    ):
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
