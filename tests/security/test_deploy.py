"""The shipped deployments give the processes that read SFTP keys a key folder, read-only.

Without SFTP_KEY_DIR every key path is refused; the api (connection tests) and the workers
(syncs) read keys, so both get the variable and a read-only mount of the keys there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def reads_keys(args: list[str]) -> bool:
    return args[:2] in (["sis-sync", "api"], ["sis-sync", "worker"])


def test_kubernetes_mounts_the_key_secret_at_sftp_key_dir_for_the_api_and_every_worker() -> None:
    documents = [
        doc for path in sorted((DEPLOY / "k8s").glob("*.yaml")) for doc in yaml.safe_load_all(path.read_text()) if doc
    ]
    checked = []
    for doc in documents:
        if doc["kind"] != "Deployment":
            continue
        pod: dict[str, Any] = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        for container in pod["containers"]:
            if not reads_keys(container["args"]):
                continue
            env = {e["name"]: e.get("value") for e in container.get("env", [])}
            mounts = {m["mountPath"]: m for m in container.get("volumeMounts", [])}
            mount = mounts[env["SFTP_KEY_DIR"]]
            assert mount["readOnly"] is True
            assert volumes[mount["name"]]["secret"]["secretName"] == "sis-sync-sftp-keys"
            checked.append(doc["metadata"]["name"])
    assert sorted(checked) == ["sis-sync-api", "sis-sync-worker-extract", "sis-sync-worker-load"]


def test_compose_mounts_the_key_folder_at_sftp_key_dir_for_the_api_and_every_worker() -> None:
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    checked = []
    for name, service in services.items():
        if not reads_keys(service.get("command", [])):
            continue
        targets = [volume.split(":")[-2:] for volume in service.get("volumes", [])]
        assert [service["environment"]["SFTP_KEY_DIR"], "ro"] in targets, name
        checked.append(name)
    assert sorted(checked) == ["api", "worker-extract", "worker-load"]
