"""The one SFTP plumbing: pinned host key, key or password login, listing, streamed download with sha256."""

from libs.connectors.sftp.config import SftpSettings, normalize_fingerprint
from libs.connectors.sftp.keys import fingerprint, parse_private_key, read_private_key
from libs.connectors.sftp.session import Download, RemoteEntry, SftpSession, connect

__all__ = [
    "Download",
    "RemoteEntry",
    "SftpSession",
    "SftpSettings",
    "connect",
    "fingerprint",
    "normalize_fingerprint",
    "parse_private_key",
    "read_private_key",
]
