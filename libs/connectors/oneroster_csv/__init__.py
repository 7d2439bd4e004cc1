"""ONEROSTER_CSV: OneRoster 1.1/1.2 CSV packages (a folder or a zip), from SFTP or a local path."""
