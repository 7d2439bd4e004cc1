"""An SFTP server (paramiko) serving OneRoster CSV packages read-only: tests, demo and benchmark."""

from devkit.simulators.sftp.server import SftpSimulator, load_or_create_host_key, new_host_key

__all__ = ["SftpSimulator", "load_or_create_host_key", "new_host_key"]
