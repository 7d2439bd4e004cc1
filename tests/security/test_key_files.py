"""sftp.privateKeyPath as a hostile district admin would use it: other tenants' keys, devices, FIFOs.

A key path names a file in SFTP_KEY_DIR/<tenantId>/ and nothing else. Every refusal reads the
same whether the file exists or not, comes within a second, reads nothing it should not (the
API's memory stays flat with /dev/zero) and happens before any network activity.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from sqlalchemy import Engine
from starlette.testclient import TestClient

from libs.connectors.base import ConnectorContext
from libs.connectors.registry import build_connector
from libs.connectors.sftp.keys import KEY_FILE_LIMIT, KeyFolder, read_private_key
from libs.enums import ProviderType
from libs.settings import Settings
from services.api.app import create_app
from tests.security.conftest import OTHER_TENANT, TENANT, Connects, FakeDns, address_space_ceiling, connection_test
from tests.support.sshd import SshServer

FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
PLACEHOLDER = "<path>"


def refusal_text(message: str, path: str) -> str:
    """The message with the path the admin typed taken out: what must not depend on the file."""
    return message.replace(path, PLACEHOLDER)


@pytest.fixture
def folders(policy_on: Settings, tmp_path: Path, sshd: SshServer) -> Iterator[dict[str, Any]]:
    assert policy_on.sftp_key_dir is not None
    mine = policy_on.sftp_key_dir / TENANT
    theirs = policy_on.sftp_key_dir / OTHER_TENANT
    (theirs / "id_key").write_text(sshd.key_text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "key").write_text(sshd.key_text)
    (mine / "escape-to-zero").symlink_to("/dev/zero")
    (mine / "escape-to-file").symlink_to(elsewhere / "key")
    (mine / "escape-to-nothing").symlink_to(elsewhere / "missing")
    (mine / "escape-to-theirs").symlink_to(theirs / "id_key")
    os.mkfifo(mine / "pipe")
    (mine / "big").write_bytes(b"A" * (KEY_FILE_LIMIT + 1))
    (mine / "a-directory").mkdir()
    yield {"mine": mine, "theirs": theirs, "elsewhere": elsewhere}
    # a reader blocked on the FIFO (a guard that failed) is let go, so no thread outlives the test
    with contextlib.suppress(OSError):
        os.close(os.open(mine / "pipe", os.O_WRONLY | os.O_NONBLOCK))


# (a path to a file that exists, the same kind of path to one that does not)
def pairs(folders: dict[str, Any]) -> list[tuple[str, str]]:
    elsewhere, theirs = folders["elsewhere"], folders["theirs"]
    return [
        ("/dev/zero", "/dev/zero-not-here"),
        ("../district-b/id_key", "../district-b/missing"),
        (str(elsewhere / "key"), str(elsewhere / "missing")),
        (str(theirs / "id_key"), str(theirs / "missing")),
        ("escape-to-file", "escape-to-nothing"),
        ("escape-to-zero", "no-such-link"),
        ("escape-to-theirs", "../district-b/../district-b/missing"),
        ("pipe", "no-such-pipe"),
        ("big", "no-such-big-file"),
        ("a-directory", "no-such-directory"),
        ("/etc/passwd", "/etc/no-such-file"),
        ("../../../../../../../../etc/passwd", "../../../../../../../../etc/no-such-file"),
    ]


def csv_config(path: str) -> dict[str, Any]:
    return {
        "sftp": {
            "host": "files.district.example",
            "username": "u",
            "privateKeyPath": path,
            "hostKeyFingerprint": FINGERPRINT,
        },
        "remotePath": "/exports",
    }


def test_key_paths_outside_the_tenants_folder_are_refused_alike_fast_and_without_reading(
    api: TestClient,
    admin: dict[str, str],
    folders: dict[str, Any],
    fake_dns: FakeDns,
) -> None:
    fake_dns.answers["files.district.example"] = ["93.184.215.14"]
    process = psutil.Process()
    connection_test(api, admin, "ONEROSTER_CSV", csv_config("warm-up"))  # the first request loads modules
    rss_before = process.memory_info().rss
    texts: set[str] = set()
    with address_space_ceiling():
        for existing, missing in pairs(folders):
            answers = []
            for path in (existing, missing):
                started = time.monotonic()
                answer = connection_test(api, admin, "ONEROSTER_CSV", csv_config(path))
                assert time.monotonic() - started < 1.0, path
                assert answer["success"] is False
                answers.append(refusal_text(answer["message"], path))
            # the file's existence changes nothing in the answer
            assert answers[0] == answers[1], (existing, missing)
            texts.add(answers[0])
    rss_after = process.memory_info().rss

    assert texts == {
        f"config.sftp.privateKeyPath {PLACEHOLDER} is not a key file this tenant may use: it must name a regular "
        f"file of at most 64 KiB inside the tenant's key folder (SFTP_KEY_DIR/{TENANT}/)"
    }
    assert rss_after - rss_before < 32 * 1024 * 1024
    # refused before anything went on the network: the SFTP host was never even looked up
    assert fake_dns.asked == []


def test_without_sftp_key_dir_every_key_path_is_refused(fake_dns: FakeDns, connects: Connects, tmp_path: Path) -> None:
    (tmp_path / "key").write_text("not read")
    for path in (str(tmp_path / "key"), "key", "/dev/zero"):
        context = ConnectorContext(provider_id="p", tenant_id=TENANT, sftp_key_dir=None, work_dir=tmp_path)
        result = build_connector(ProviderType.ONEROSTER_CSV, csv_config(path), context).test_connection()
        assert result.message == (
            "config.sftp.privateKeyPath cannot be used here: SFTP_KEY_DIR is not set; give privateKey or password "
            "instead"
        )
    assert connects.targets == []


@pytest.mark.parametrize("tenant", ["", ".", "..", "a/..", "a/b"])
def test_a_tenant_id_that_is_not_one_folder_name_gets_no_key_folder(tenant: str, tmp_path: Path) -> None:
    (tmp_path / "keys" / "key").parent.mkdir(parents=True)
    (tmp_path / "keys" / "key").write_text("x")
    with pytest.raises(ValueError, match="is not a key file this tenant may use"):
        read_private_key("key", folder=KeyFolder(tmp_path / "keys", tenant))


def test_a_key_inside_the_folder_is_read_relative_absolute_or_through_a_symlink_inside(
    tmp_path: Path, sshd: SshServer
) -> None:
    mine = tmp_path / "keys" / TENANT
    # the layout of a Kubernetes secret volume: the file is a symlink into a dated folder beside it
    (mine / "..2026_01_01").mkdir(parents=True)
    (mine / "..2026_01_01" / "id_ed25519").write_text(sshd.key_text)
    (mine / "..data").symlink_to("..2026_01_01")
    (mine / "id_ed25519").symlink_to("..data/id_ed25519")
    folder = KeyFolder(tmp_path / "keys", TENANT)

    for path in ("id_ed25519", "./id_ed25519", str(mine / "id_ed25519"), "..data/id_ed25519"):
        assert read_private_key(path, folder=folder).get_name() == "ssh-ed25519"


@pytest.fixture
def loopback_allowed(db: Engine, policy_on: Settings) -> Iterator[TestClient]:
    """The API with the production policy plus PROVIDER_EGRESS_ALLOW=127.0.0.1/32 (where the sshd listens)."""
    settings = policy_on.model_copy(update={"provider_egress_allow": ("127.0.0.1/32",)})
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_good_key_in_the_tenants_folder_logs_in_to_a_real_sshd(
    loopback_allowed: TestClient, admin: dict[str, str], policy_on: Settings, sshd: SshServer
) -> None:
    assert policy_on.sftp_key_dir is not None
    (policy_on.sftp_key_dir / TENANT / "id_ed25519").write_text(sshd.key_text)
    drop = sshd.folder(f"keys-{os.getpid()}-{time.monotonic_ns()}")
    (drop / "manifest.csv").write_text("propertyName,value\nmanifest.version,1.0\n")
    (drop / "manifest.csv").chmod(0o644)
    config = {
        "sftp": sshd.sftp_config(privateKeyPath="id_ed25519"),
        "remotePath": str(drop),
        "stableSeconds": 0.1,
    }

    answer = connection_test(loopback_allowed, admin, "ONEROSTER_CSV", config)

    assert answer["success"] is True, answer["message"]
    assert answer["details"]["server"]["auth"] == ["publickey"]
