"""`sis-sync keygen` and `sis-sync rotate-keys`: config encryption key management."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from libs.db.crypto import generate_key
from libs.db.dev_secrets import config_cipher
from libs.db.engine import get_engine
from libs.db.keys import UnreadableConfigs, rotate_config_keys
from libs.logs import configure_logging
from libs.settings import load_settings

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    keygen = subparsers.add_parser("keygen", help="print a new key for CONFIG_ENCRYPTION_KEYS")
    keygen.set_defaults(handler=run_keygen)
    rotate = subparsers.add_parser("rotate-keys", help="re-encrypt every provider config under the primary (first) key")
    rotate.add_argument("--actor", default="cli", help="who to record in the audit log")
    rotate.set_defaults(handler=run_rotate)


def run_keygen(args: argparse.Namespace) -> int:
    print(generate_key())
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    settings = load_settings()
    configure_logging(settings)
    try:
        result = rotate_config_keys(get_engine(settings), config_cipher(settings), actor=args.actor)
    except UnreadableConfigs as exc:
        print(f"sis-sync: {_unreadable(exc, keys_set=bool(settings.config_encryption_keys))}", file=sys.stderr)
        return 1
    print(f"re-encrypted {result.rotated} of {result.total} provider configs under the primary key")
    return 0


_NAMED = 10


def _unreadable(exc: UnreadableConfigs, *, keys_set: bool) -> str:
    named = ", ".join(f"{p.name!r} ({p.provider_id})" for p in exc.providers[:_NAMED])
    if len(exc.providers) > _NAMED:
        named += f" and {len(exc.providers) - _NAMED} more"
    keys = "CONFIG_ENCRYPTION_KEYS" if keys_set else "the development key (CONFIG_ENCRYPTION_KEYS is not set)"
    one = len(exc.providers) == 1
    return (
        f"rotate-keys changed nothing: the {'config' if one else 'configs'} of {named} "
        f"{'does' if one else 'do'} not open with {keys}; keep the key {'it was' if one else 'they were'} "
        "saved with in CONFIG_ENCRYPTION_KEYS, after the new primary key, until rotate-keys finishes"
    )
