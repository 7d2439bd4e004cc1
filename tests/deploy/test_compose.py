"""deploy/docker-compose.yml: parsed and checked (Docker is not on this machine to run `docker compose config`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from libs.etl.phase import Queue
from services.cli import build_parser

COMPOSE = Path(__file__).resolve().parents[2] / "deploy" / "docker-compose.yml"


def services() -> dict[str, dict[str, Any]]:
    # PyYAML resolves the anchors and `<<` merge keys as Compose does
    return dict(yaml.safe_load(COMPOSE.read_text())["services"])


def sis_sync_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("image") == "sis-sync:latest"}


def test_every_command_and_health_check_parses_with_the_cli() -> None:
    parser = build_parser()
    for name, service in sis_sync_services().items():
        assert service["command"][0] == "sis-sync", name
        parser.parse_args(service["command"][1:])
        test = service.get("healthcheck", {}).get("test", [])
        if test[1:2] == ["sis-sync"]:
            parser.parse_args(test[2:])


def test_migrate_runs_once_and_everything_else_waits_for_it_to_succeed() -> None:
    all_services = services()
    migrate = all_services["migrate"]
    assert migrate["restart"] == "no"
    assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}
    for name, service in sis_sync_services().items():
        if name != "migrate":
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
            assert service["healthcheck"]["test"], name
        for dependency in service["depends_on"]:
            assert dependency in all_services
    for backing in ("postgres", "redis"):
        assert all_services[backing]["healthcheck"]["test"], backing


def test_one_worker_pool_per_queue_group_covering_every_queue_once() -> None:
    parser = build_parser()
    pools = {}
    for name, service in sis_sync_services().items():
        args = parser.parse_args(service["command"][1:])
        if args.command == "worker":
            pools[name] = args
            # the stop waits out the worker's own shutdown timeout before the SIGKILL
            minutes = int(service["stop_grace_period"].rstrip("m"))
            assert minutes * 60 > args.shutdown_timeout / 1000, name
    assert sorted(q for args in pools.values() for q in args.queues) == sorted(q.value for q in Queue)
    assert set(pools) == {"worker-extract", "worker-load"}


def test_containers_run_read_only_as_the_service_user_and_keep_secrets_out_of_the_file() -> None:
    for name, service in sis_sync_services().items():
        assert service["read_only"] is True, name
        assert service["user"] == "10001:10001", name
        assert "/tmp" in service["tmpfs"], name  # noqa: S108 - the container's own /tmp
        assert "/var/lib/sis-sync" in service["volumes"], name
        env = service["environment"]
        for secret in ("CONFIG_ENCRYPTION_KEYS", "AUTH_JWT_SECRET"):
            assert env[secret].startswith("${" + secret + ":?"), (name, secret)
        assert "${POSTGRES_PASSWORD:?" in env["DATABASE_URL"]
