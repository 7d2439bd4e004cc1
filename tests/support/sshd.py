"""A real OpenSSH sshd on 127.0.0.1 for the SFTP tests (the `sshd` fixture; import it into a conftest).

Started once per session on a free port with its own host keys (Ed25519 and RSA), an
authorized client key and, when running as root, a password user. sshd checks passwords
against /etc/shadow and only for a real account, so as root the fixture creates an
unprivileged system account of its own (random name and password, no shell, removed at the
end; a name per session because parallel sessions on one machine must not reset each other's
password); without root only key auth as the current user is possible and the password test
skips. The served folder lives under /tmp with world-readable modes, because the login user
is not root.

Without /usr/sbin/sshd the tests skip, except under CI (env CI set), where they fail: CI
installs openssh-server.
"""

from __future__ import annotations

import getpass
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from libs.connectors.sftp.keys import fingerprint

SSHD = Path("/usr/sbin/sshd")


def _private_openssh(key: Any) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    )


def _public_openssh(key: Any) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _create_user(password: str) -> str:
    name = f"sis-sftp-{secrets.token_hex(4)}"
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name],
        check=True,
        capture_output=True,
    )
    subprocess.run(["chpasswd"], input=f"{name}:{password}\n", text=True, check=True, capture_output=True)
    return name


@dataclass
class SshServer:
    host: str
    port: int
    username: str
    password: str | None
    root: Path
    key_path: Path
    key_text: str
    fingerprints: dict[str, str]
    log: list[str] = field(default_factory=list)

    @property
    def fingerprint(self) -> str:
        return self.fingerprints["ssh-ed25519"]

    def sftp_config(self, **overrides: Any) -> dict[str, Any]:
        config: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "username": self.username,
            "privateKeyPath": str(self.key_path),
            "hostKeyFingerprint": self.fingerprint,
        }
        config.update(overrides)
        return {k: v for k, v in config.items() if v is not None}

    def folder(self, name: str) -> Path:
        """A fresh folder the login user can read."""
        path = self.root / name
        path.mkdir(mode=0o755)
        path.chmod(0o755)
        return path


@pytest.fixture(scope="session")
def sshd() -> Iterator[SshServer]:
    if not SSHD.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{SSHD} is missing; CI must install openssh-server (.ci/run does)")
        pytest.skip(f"{SSHD} is not installed (apt-get install openssh-server) - the SFTP tests need a real sshd")
    is_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="sis-sshd-", dir="/tmp"))
    base.chmod(0o755)
    served = base / "served"
    served.mkdir(mode=0o755)
    served.chmod(0o755)

    host_ed25519, host_rsa = ed25519.Ed25519PrivateKey.generate(), rsa.generate_private_key(65537, 2048)
    fingerprints = {}
    for name, key in (("ssh_host_ed25519_key", host_ed25519), ("ssh_host_rsa_key", host_rsa)):
        path = base / name
        path.write_bytes(_private_openssh(key))
        path.chmod(0o600)
        loaded = paramiko.PKey.from_path(path)
        fingerprints[loaded.get_name()] = fingerprint(loaded)

    client_key = ed25519.Ed25519PrivateKey.generate()
    key_text = _private_openssh(client_key).decode()
    key_path = base / "client_key"
    key_path.write_text(key_text)
    key_path.chmod(0o600)
    (base / "authorized_keys").write_text(_public_openssh(client_key) + "\n")
    (base / "authorized_keys").chmod(0o644)

    password = secrets.token_urlsafe(16) if is_root else None
    username = _create_user(password) if password else getpass.getuser()
    if is_root:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)

    port = _free_port()
    config = base / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {base / 'ssh_host_ed25519_key'}",
                f"HostKey {base / 'ssh_host_rsa_key'}",
                "PidFile none",
                "UsePAM no",
                # the authorized_keys file sits under /tmp, which StrictModes would refuse
                "StrictModes no",
                f"AuthorizedKeysFile {base / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                f"PasswordAuthentication {'yes' if password else 'no'}",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin no",
                f"AllowUsers {username}",
                "Subsystem sftp internal-sftp",
                "ForceCommand internal-sftp",
                "MaxStartups 50",
                "LogLevel VERBOSE",
                "",
            ]
        )
    )
    process = subprocess.Popen(
        [str(SSHD), "-D", "-e", "-f", str(config)], stderr=subprocess.PIPE, text=True, errors="replace"
    )
    server = SshServer(
        host="127.0.0.1",
        port=port,
        username=username,
        password=password,
        root=served,
        key_path=key_path,
        key_text=key_text,
        fingerprints=fingerprints,
    )
    listening = threading.Event()

    def pump() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            server.log.append(line.rstrip())
            if "Server listening on" in line:
                listening.set()
        listening.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not listening.wait(20) or process.poll() is not None:
            pytest.fail("sshd did not start:\n" + "\n".join(server.log))
        yield server
    finally:
        process.terminate()
        process.wait(10)
        reader.join(10)
        if process.stderr is not None:
            process.stderr.close()
        if password:
            subprocess.run(["userdel", username], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
