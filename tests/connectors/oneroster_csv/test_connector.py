"""The ONEROSTER_CSV connector as the engine and the API see it: config, plan, connection test."""

from __future__ import annotations

import pytest

from libs.connectors.base import ConnectorContext
from libs.connectors.errors import ConfigError
from libs.connectors.oneroster_csv.config import OneRosterCsvConfig
from libs.connectors.oneroster_csv.connector import WHOLE_PACKAGE
from libs.connectors.registry import build_connector, parse_config
from libs.enums import ProviderType
from tests.connectors.oneroster_csv.conftest import ORGS, bulk_manifest, connector_for

FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"


def test_local_path_is_refused_unless_the_installation_allows_it(tmp_path):
    context = ConnectorContext(provider_id="p", allow_local_paths=False)

    with pytest.raises(ConfigError, match=r"ALLOW_LOCAL_CSV_PATHS is off"):
        build_connector(ProviderType.ONEROSTER_CSV, {"localPath": str(tmp_path)}, context)


def test_connection_test_reports_the_package_files_and_modes(make_package):
    path = make_package({"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS})

    result = connector_for(path).test_connection()

    assert result.success
    assert result.message == f"would read {path.name} (OneRoster 1.1)"
    assert result.details["package_files"] == ["manifest.csv", "orgs.csv"]
    assert result.details["modes"]["school"] == "full"
    assert result.details["modes"]["user"] == "absent"


def test_connection_test_reports_a_broken_header(make_package):
    path = make_package({"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS.replace("name", "nmae")})

    result = connector_for(path).test_connection()

    assert not result.success
    assert "orgs.csv: required column 'name' is missing (found 'nmae')" in result.message


def test_connection_test_of_a_missing_path_fails_clearly(tmp_path):
    result = connector_for(tmp_path / "nowhere").test_connection()

    assert not result.success
    assert result.message == f"localPath {tmp_path / 'nowhere'} does not exist"


def test_folder_of_zips_takes_the_newest_and_skips_partial_uploads(make_package, tmp_path):
    import os

    older = make_package(
        {"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS + "old,,,Old,school,,\n"}, as_zip=True
    )
    newer = make_package(
        {"manifest.csv": bulk_manifest("orgs"), "orgs.csv": ORGS + "new,,,New,school,,\n"}, as_zip=True
    )
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "roster-1.zip").write_bytes(older.read_bytes())
    (drop / "roster-2.zip").write_bytes(newer.read_bytes())
    (drop / "roster-3.zip.part").write_bytes(newer.read_bytes()[:100])
    os.utime(drop / "roster-1.zip", (1_000_000, 1_000_000))
    os.utime(drop / "roster-2.zip", (2_000_000, 2_000_000))

    connector = connector_for(drop)
    step = WHOLE_PACKAGE
    extraction = connector.extract(step)

    assert [r.external_id for r in extraction] == ["new"]
    assert extraction.source["package"]["name"] == "roster-2.zip"


def test_sftp_config_requires_a_pinned_host_key_and_a_credential():
    with pytest.raises(ConfigError, match=r"config.sftp.hostKeyFingerprint: Field required"):
        parse_config(
            ProviderType.ONEROSTER_CSV, {"sftp": {"host": "h", "username": "u", "password": "p"}, "remotePath": "/x"}
        )
    with pytest.raises(ConfigError, match=r"needs a credential"):
        parse_config(
            ProviderType.ONEROSTER_CSV,
            {"sftp": {"host": "h", "username": "u", "hostKeyFingerprint": FINGERPRINT}, "remotePath": "/x"},
        )


def test_sftp_config_accepts_a_pasted_ssh_keygen_line_and_the_product_spec_shape():
    config = parse_config(
        ProviderType.ONEROSTER_CSV,
        {
            "sftp": {
                "host": "sftp.example.com",
                "port": 22,
                "username": "sis-sync",
                "privateKeyPath": "/secrets/sftp-key",
                "hostKeyFingerprint": f"256 {FINGERPRINT} root@host (ED25519)",
            },
            "remotePath": "/exports/oneroster",
        },
    )

    assert isinstance(config, OneRosterCsvConfig)
    assert config.sftp is not None
    assert config.sftp.host_key_fingerprint == FINGERPRINT


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"hostKeyFingerprint": "MD5:aa:bb"}, "must be a SHA256 host key fingerprint"),
        ({"host": "sftp://x"}, "must be a host name or IP address"),
        ({"port": 70000}, "less than or equal to 65535"),
        ({"privateKeyPath": "keys/\x00key.pem"}, "must not contain control characters"),
        (
            {"privateKey": "-----BEGIN OPENSSH PRIVATE KEY-----\nnope\n-----END OPENSSH PRIVATE KEY-----"},
            "privateKey is not a readable private key",
        ),
    ],
)
def test_sftp_config_errors_are_clear(patch, message):
    sftp = {"host": "h", "username": "u", "password": "p", "hostKeyFingerprint": FINGERPRINT} | patch

    with pytest.raises(ConfigError, match=message) as caught:
        parse_config(ProviderType.ONEROSTER_CSV, {"sftp": sftp, "remotePath": "/x"})

    assert "nope" not in caught.value.message


def test_config_needs_exactly_one_source():
    with pytest.raises(ConfigError, match=r"needs sftp"):
        parse_config(ProviderType.ONEROSTER_CSV, {})
    with pytest.raises(ConfigError, match=r"either localPath or sftp"):
        parse_config(
            ProviderType.ONEROSTER_CSV,
            {
                "localPath": "/a",
                "remotePath": "/b",
                "sftp": {"host": "h", "username": "u", "password": "p", "hostKeyFingerprint": FINGERPRINT},
            },
        )


def test_secret_fields_name_the_credentials():
    assert set(OneRosterCsvConfig.secret_fields) == {"sftp.password", "sftp.privateKey", "sftp.privateKeyPassphrase"}


def test_secrets_do_not_appear_in_the_config_repr():
    config = parse_config(
        ProviderType.ONEROSTER_CSV,
        {
            "sftp": {"host": "h", "username": "u", "password": "hunter2", "hostKeyFingerprint": FINGERPRINT},
            "remotePath": "/x",
        },
    )

    assert "hunter2" not in repr(config)


def test_the_api_stores_the_config_as_given_and_masks_every_sftp_secret():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from libs.providers import configs

    key = (
        ed25519.Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        .decode()
    )
    given = {
        "sftp": {
            "host": "h",
            "username": "u",
            "privateKey": key,
            "password": "hunter2-pw",
            "hostKeyFingerprint": FINGERPRINT,
        },
        "remotePath": "/x",
    }

    stored = configs.validate(ProviderType.ONEROSTER_CSV, given)
    shown = configs.masked(ProviderType.ONEROSTER_CSV, stored)

    assert stored["sftp"]["privateKey"] == key
    assert stored["sftp"]["password"] == "hunter2-pw"
    assert shown["sftp"]["password"] == shown["sftp"]["privateKey"] == "********"
    assert shown["sftp"]["hasPassword"] is True
    assert shown["sftp"]["hasPrivateKeyPassphrase"] is False
    assert "hunter2" not in repr(shown)
    assert "OPENSSH" not in repr(shown)
