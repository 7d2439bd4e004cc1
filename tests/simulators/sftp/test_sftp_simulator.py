"""The SFTP simulator serves folders read-only, and the CSV connector reads from it like from a real drop."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import paramiko
import pytest

from devkit.simulators.sftp import SftpSimulator
from devkit.simulators.sftp.server import new_host_key
from libs.connectors.base import ConnectorContext
from libs.connectors.errors import AuthError
from libs.connectors.oneroster_csv.connector import WHOLE_PACKAGE
from libs.connectors.records import Record
from libs.connectors.registry import build_connector
from libs.connectors.sftp import SftpSettings, connect, parse_private_key
from libs.enums import EntityType, ProviderType
from tests.connectors.oneroster_csv.conftest import read_package
from tests.support.egress import LOCAL


def counts(items) -> Counter:
    return Counter((i.entity_type, i.tombstone) for i in items if isinstance(i, Record))


def read_over_sftp(config: dict, tmp_path: Path):
    context = ConnectorContext(provider_id="p", work_dir=tmp_path / "work", egress=LOCAL)
    connector = build_connector(ProviderType.ONEROSTER_CSV, config | {"stableSeconds": 0.1}, context)
    step = WHOLE_PACKAGE
    extraction = connector.extract(step)
    return extraction, list(extraction)


@pytest.fixture
def served(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "inner").mkdir(parents=True)
    (root / "inner" / "a.txt").write_text("hello")
    return root


def test_every_shared_set_reads_the_same_over_the_simulator_as_locally(shared_data, tmp_path):
    sets = sorted(p for p in (shared_data / "oneroster").rglob("manifest.csv"))
    with SftpSimulator(shared_data / "oneroster", password="pw") as simulator:
        for manifest in sets:
            folder = manifest.parent
            remote = "/" + str(folder.relative_to(shared_data / "oneroster"))
            _, items = read_over_sftp(simulator.provider_config(remote), tmp_path)
            assert counts(items) == counts(read_package(folder).items), remote


def test_password_and_key_logins(served, tmp_path):
    key_text = new_host_key()
    client_key = parse_private_key(key_text)
    with SftpSimulator(served, password="pw", authorized_keys=[client_key]) as simulator:
        base = {"host": "127.0.0.1", "port": simulator.port, "username": "sis-sync"}
        pinned = base | {"hostKeyFingerprint": simulator.fingerprint}
        with connect(SftpSettings.model_validate(pinned | {"password": "pw"}), egress=LOCAL) as session:
            assert [e.name for e in session.list("/")] == ["inner"]
        key_file = tmp_path / "key"
        key_file.write_text(key_text)
        with connect(SftpSettings.model_validate(pinned | {"privateKeyPath": str(key_file)}), egress=LOCAL) as session:
            assert session.stat("/inner/a.txt").size == 5
        with (
            pytest.raises(AuthError),
            connect(SftpSettings.model_validate(pinned | {"password": "wrong"}), egress=LOCAL),
        ):
            pass


def test_it_is_read_only_and_paths_stay_inside_the_root(served):
    with SftpSimulator(served, password="pw") as simulator:
        transport = paramiko.Transport(("127.0.0.1", simulator.port))
        transport.connect(username="sis-sync", password="pw")
        client = paramiko.SFTPClient.from_transport(transport)
        assert client is not None
        try:
            with pytest.raises(PermissionError):
                client.open("/inner/new.txt", "w")
            with pytest.raises(PermissionError):
                client.remove("/inner/a.txt")
            assert client.listdir("/../..") == ["inner"]
            with client.open("/inner/../inner/a.txt") as handle:
                assert handle.read() == b"hello"
        finally:
            client.close()
            transport.close()
    assert (served / "inner" / "a.txt").read_text() == "hello"
    assert not (served / "inner" / "new.txt").exists()


def test_cli_prints_the_fingerprint_and_a_provider_config_that_works(served, tmp_path):
    command = [sys.executable, "-m", "services.cli", "simulate", "sftp", "--dir", str(served), "--port", "0"]
    command += ["--password", "pw", "--out", str(tmp_path / "out")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        output = "".join(lines)
        fingerprint = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("host key fingerprint"))
        config = json.loads(output[output.index("{") : output.rindex("}") + 1])
        assert config["sftp"]["hostKeyFingerprint"] == fingerprint
        with connect(SftpSettings.model_validate(config["sftp"]), egress=LOCAL) as session:
            assert [e.name for e in session.list(config["remotePath"])] == ["inner"]
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_generated_district_is_served_as_a_zip(tmp_path):
    from devkit.simulators.sftp.cli import generate

    served = generate("S", 1, tmp_path / "out")
    with SftpSimulator(served, password="pw") as simulator:
        extraction, items = read_over_sftp(simulator.provider_config("/"), tmp_path)

    assert extraction.source["package"]["name"] == "oneroster-S.zip"
    per_entity = Counter(i.entity_type for i in items if isinstance(i, Record))
    assert per_entity[EntityType.ENROLLMENT] > 50_000
    assert all(outcome.complete for outcome in extraction.outcomes.values())
