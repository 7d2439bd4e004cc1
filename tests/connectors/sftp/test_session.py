"""The SFTP plumbing against a real OpenSSH sshd: pinned host key, key and password login, download."""

from __future__ import annotations

import functools
import hashlib
import os

import pytest

from libs.connectors import sftp
from libs.connectors.errors import AuthError, ConfigError, NotFoundError, ProviderUnavailable
from libs.connectors.sftp import SftpSettings
from tests.support.egress import LOCAL

# the sshd listens on loopback
connect = functools.partial(sftp.connect, egress=LOCAL)
OTHER_FINGERPRINT = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"


def settings(**config) -> SftpSettings:
    return SftpSettings.model_validate(config)


def test_key_file_login_lists_the_remote_folder(sshd):
    folder = sshd.folder("listing")
    (folder / "a.zip").write_bytes(b"x" * 10)
    (folder / "a.zip").chmod(0o644)

    with connect(settings(**sshd.sftp_config())) as session:
        entries = session.list(str(folder))

    assert [(e.name, e.size, e.is_dir) for e in entries] == [("a.zip", 10, False)]


def test_key_given_as_text_logs_in(sshd):
    config = sshd.sftp_config(privateKeyPath=None, privateKey=sshd.key_text)

    with connect(settings(**config)) as session:
        assert session.stat(str(sshd.root)).is_dir


def test_password_login(sshd):
    if sshd.password is None:
        pytest.skip("password login against a real sshd needs root to create the test account")
    config = sshd.sftp_config(privateKeyPath=None, password=sshd.password)

    with connect(settings(**config)) as session:
        assert session.stat(str(sshd.root)).is_dir


def test_wrong_password_is_an_auth_error(sshd):
    if sshd.password is None:
        pytest.skip("password login against a real sshd needs root to create the test account")
    config = sshd.sftp_config(privateKeyPath=None, password="not-" + sshd.password)

    refused = f"{sshd.username}@127.0.0.1:{sshd.port} refused the password"
    with pytest.raises(AuthError, match=refused) as caught, connect(settings(**config)):
        pass

    assert sshd.password not in caught.value.message


def test_unknown_host_key_is_refused_before_any_credential_is_sent(sshd):
    config = sshd.sftp_config(hostKeyFingerprint=OTHER_FINGERPRINT)
    log_before = len(sshd.log)

    with pytest.raises(AuthError) as caught, connect(settings(**config)):
        pass

    message = caught.value.message
    assert message.startswith(f"the SSH host key of 127.0.0.1:{sshd.port} does not match hostKeyFingerprint")
    assert sshd.fingerprints["ssh-ed25519"] in message
    assert sshd.fingerprints["ssh-rsa"] in message
    # sshd saw no login attempt at all
    assert not [line for line in sshd.log[log_before:] if "Accepted" in line or "Failed" in line]


def test_pinning_the_servers_other_host_key_type_also_works(sshd):
    config = sshd.sftp_config(hostKeyFingerprint=sshd.fingerprints["ssh-rsa"])

    with connect(settings(**config)) as session:
        assert session.host_key_type in ("rsa-sha2-512", "rsa-sha2-256", "ssh-rsa")


def test_wrong_key_is_an_auth_error(sshd, tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    other = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )
    config = sshd.sftp_config(privateKeyPath=None, privateKey=other.decode())

    with pytest.raises(AuthError, match="refused the private key"), connect(settings(**config)):
        pass


def test_missing_key_file_is_a_config_error(sshd, tmp_path):
    config = sshd.sftp_config(privateKeyPath=str(tmp_path / "nope"))

    with pytest.raises(ConfigError, match="is not a readable key file"), connect(settings(**config)):
        pass


def test_closed_port_is_provider_unavailable(sshd):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = sshd.sftp_config(port=port, connectTimeout=5)

    refused = f"127.0.0.1:{port} refused the connection"
    with pytest.raises(ProviderUnavailable, match=refused), connect(settings(**config)):
        pass


def test_missing_remote_path_is_not_found(sshd):
    with connect(settings(**sshd.sftp_config())) as session, pytest.raises(NotFoundError, match="does not exist"):
        session.list(str(sshd.root / "nowhere"))


def test_download_streams_to_a_file_with_its_sha256(sshd, tmp_path):
    folder = sshd.folder("download")
    data = os.urandom(3_000_000)
    (folder / "big.zip").write_bytes(data)
    (folder / "big.zip").chmod(0o644)

    with connect(settings(**sshd.sftp_config())) as session:
        done = session.download(str(folder / "big.zip"), tmp_path / "big.zip", size=len(data))

    assert (tmp_path / "big.zip").read_bytes() == data
    assert done.size == len(data)
    assert done.sha256 == hashlib.sha256(data).hexdigest()
