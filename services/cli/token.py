"""`sis-sync token`: mint a bearer token for development and demos."""

from __future__ import annotations

import argparse
from typing import Any

from libs.auth import Role, mint_token
from libs.db.dev_secrets import jwt_secret
from libs.db.settings import load_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("token", help="mint a JWT for the API and the UI")
    parser.add_argument("--role", choices=[r.value for r in Role], default=Role.DISTRICT_ADMIN.value)
    parser.add_argument("--tenant", help="tenant id (required for DISTRICT_ADMIN)")
    parser.add_argument("--sub", default="dev-admin", help="subject (who the token speaks for)")
    parser.add_argument("--ttl", type=int, default=12 * 3600, help="lifetime in seconds")
    parser.add_argument("--login-url", action="store_true", help="print a UI login link instead of the token")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.role == Role.DISTRICT_ADMIN and not args.tenant:
        raise SystemExit("sis-sync token: --tenant is required for a DISTRICT_ADMIN token")
    settings = load_settings()
    token = mint_token(
        jwt_secret(settings),
        subject=args.sub,
        roles=[args.role],
        tenant_id=args.tenant,
        ttl_seconds=args.ttl,
        issuer=settings.auth_jwt_issuer,
        audience=settings.auth_jwt_audience,
    )
    if args.login_url:
        host = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
        print(f"http://{host}:{settings.port}/integrations/sis/login#token={token}")
    else:
        print(token)
    return 0
