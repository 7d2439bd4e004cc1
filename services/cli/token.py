"""`sis-sync token`: mint a bearer token for development and demos."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from libs.auth import Role, mint_token
from libs.db.dev_secrets import jwt_secret
from libs.settings import AppEnv, Settings, load_settings

LOGIN_PATH = "/integrations/sis/login"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "token",
        help="mint a JWT for the API and the UI",
        description="Mint a bearer token signed with AUTH_JWT_SECRET, or, when neither APP_ENV nor NODE_ENV "
        "is set, with the development secret `make demo` created under DATA_DIR.",
    )
    parser.add_argument(
        "--role",
        choices=[r.value for r in Role],
        default=Role.DISTRICT_ADMIN.value,
        help="DISTRICT_ADMIN (one tenant) or PLATFORM_ADMIN (every tenant); default DISTRICT_ADMIN",
    )
    parser.add_argument("--tenant", help="tenant id (required for DISTRICT_ADMIN)")
    parser.add_argument("--sub", default="dev-admin", help="subject (who the token speaks for)")
    parser.add_argument(
        "--ttl", type=int, help="lifetime in seconds (default: 12 hours, at most AUTH_JWT_MAX_TTL_SECONDS)"
    )
    parser.add_argument("--login-url", action="store_true", help="print a UI login link instead of the token")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.role == Role.DISTRICT_ADMIN and not args.tenant:
        raise SystemExit("sis-sync token: --tenant is required for a DISTRICT_ADMIN token")
    settings = development_default()
    if args.ttl is not None and not 0 < args.ttl <= settings.auth_jwt_max_ttl_seconds:
        limit = settings.auth_jwt_max_ttl_seconds
        raise SystemExit(f"sis-sync token: --ttl must be between 1 and {limit} seconds (AUTH_JWT_MAX_TTL_SECONDS)")
    token = mint(settings, role=args.role, tenant=args.tenant, sub=args.sub, ttl=args.ttl)
    print(login_url(settings, token) if args.login_url else token)
    return 0


def mint(settings: Settings, *, role: str, tenant: str | None, sub: str, ttl: int | None = None) -> str:
    """A token the API accepts: `ttl` seconds, by default 12 hours or AUTH_JWT_MAX_TTL_SECONDS if shorter."""
    ttl = min(ttl or 12 * 3600, settings.auth_jwt_max_ttl_seconds)
    return mint_token(
        jwt_secret(settings),
        subject=sub,
        roles=[role],
        tenant_id=tenant,
        ttl_seconds=ttl,
        issuer=settings.auth_jwt_issuer,
        audience=settings.auth_jwt_audience,
    )


def login_url(settings: Settings, token: str, *, port: int | None = None) -> str:
    """The UI's sign-in link. The token rides in the fragment, which browsers never send."""
    host = "localhost" if settings.host in ("0.0.0.0", "::") else settings.host  # noqa: S104
    return f"http://{host}:{port or settings.port}{LOGIN_PATH}#token={token}"


def development_default() -> Settings:
    """The settings of a development command: APP_ENV (or NODE_ENV) when set, else development.

    `sis-sync token` and `sis-sync demo` are tools of a source checkout: without an environment
    they sign with the development secret under DATA_DIR, which is what `make demo` uses."""
    if "APP_ENV" in os.environ or "NODE_ENV" in os.environ:
        return load_settings()
    settings = load_settings(app_env=AppEnv.DEVELOPMENT)
    if not settings.auth_jwt_secret:
        print(f"sis-sync: APP_ENV is not set: using the development secret under {settings.data_dir}", file=sys.stderr)
    return settings
