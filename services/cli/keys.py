"""`sis-sync keygen` and `sis-sync rotate-keys`: config encryption key management."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from libs.db.crypto import generate_key
from libs.db.dev_secrets import config_cipher
from libs.db.engine import get_engine
from libs.db.keys import rotate_config_keys
from libs.db.settings import load_settings
from libs.logs import configure_logging

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
    result = rotate_config_keys(get_engine(settings), config_cipher(settings), actor=args.actor)
    print(f"re-encrypted {result.rotated} of {result.total} provider configs under the primary key")
    return 0
