"""deploy/k8s: valid against the Kubernetes schemas (offline), and true to the code it deploys."""

from __future__ import annotations

import ipaddress
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dramatiq
import jsonschema
import kubernetes_validate
import pytest
import yaml

from libs.connectors.egress import METADATA_ADDRESSES, classify
from libs.etl.phase import Queue
from libs.settings import Settings, load_settings
from services.cli import build_parser
from services.queue.broker import SyncBroker, build_broker

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
SCHEMA = Path(__file__).with_name("keda-scaledobject.schema.json")
# the oldest Kubernetes release the manifests are meant for (docs/deploy.md)
KUBERNETES_VERSION = "1.29"


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def manifests() -> Iterator[dict[str, Any]]:
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            yield from documents(path)


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in manifests() if doc["kind"] == kind}


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(only)


def worker_queues(deployment: dict[str, Any]) -> list[str]:
    args = build_parser().parse_args(container(deployment)["args"][1:])
    assert args.command == "worker"
    return list(args.queues)


def test_every_kubernetes_object_validates_strictly_against_the_bundled_schemas() -> None:
    checked = 0
    for doc in manifests():
        if doc["apiVersion"].startswith("keda.sh/"):
            continue
        # raises on any error; strict: an unknown field (a typo) is an error too
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        checked += 1
    assert checked >= 10


def test_a_typo_in_a_manifest_fails_validation() -> None:
    deployment = of_kind("Deployment")["sis-sync-api"]
    container(deployment)  # a valid one first
    broken = json.loads(json.dumps(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)


def test_the_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    (kustomization,) = documents(K8S / "kustomization.yaml")
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secrets.example.yaml"}
    assert set(kustomization["resources"]) == files


def test_scaled_objects_follow_kedas_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    scaled = of_kind("ScaledObject")
    assert scaled
    for doc in scaled.values():
        jsonschema.validate(doc, schema)
    bad = json.loads(json.dumps(next(iter(scaled.values()))))
    del bad["spec"]["triggers"][0]["metadata"]["listLength"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema)


@pytest.fixture
def default_broker() -> Iterator[SyncBroker]:
    """The broker as a deployment builds it: REDIS_NAMESPACE left at its default."""
    broker = build_broker(load_settings(redis_url="redis://127.0.0.1:1/0", app_env="test"))
    assert isinstance(broker, SyncBroker)
    yield broker
    broker.close()


def test_each_worker_pool_scales_on_the_redis_lists_of_exactly_its_queues(default_broker: SyncBroker) -> None:
    deployments = of_kind("Deployment")
    pools = {name: d for name, d in deployments.items() if container(d)["args"][1] == "worker"}
    assert set(pools) == {f"sis-sync-worker-{pool}" for pool in ("extract", "load")}
    consumed = [q for d in pools.values() for q in worker_queues(d)]
    # every queue has exactly one pool
    assert sorted(consumed) == sorted(q.value for q in Queue)
    scaled = {doc["spec"]["scaleTargetRef"]["name"]: doc for doc in of_kind("ScaledObject").values()}
    assert set(scaled) == set(pools)
    for name, deployment in pools.items():
        lists = {t["metadata"]["listName"] for t in scaled[name]["spec"]["triggers"] if t["type"] == "redis"}
        assert lists == {default_broker.queue_key(q) for q in worker_queues(deployment)}


def test_the_queue_key_is_the_list_the_broker_pushes_messages_to(settings: Settings) -> None:
    # against a real Redis: a message sent to each queue lands in the list queue_key names
    broker = build_broker(settings.model_copy(update={"redis_namespace": f"keys-{uuid.uuid4().hex[:8]}"}))
    assert isinstance(broker, SyncBroker)
    try:
        for queue in Queue:
            key = broker.queue_key(queue.value)
            assert broker.client.llen(key) == 0
            broker.enqueue(dramatiq.Message(queue_name=queue.value, actor_name="probe", args=(), kwargs={}, options={}))
            assert broker.client.type(key) == b"list"
            assert broker.client.llen(key) == 1
    finally:
        broker.client.delete(*broker.client.keys(f"{broker.namespace}:*"))
        broker.close()


def test_workers_outlast_their_shutdown_timeout_and_have_probes_resources_and_a_budget() -> None:
    budgets = {
        doc["spec"]["selector"]["matchLabels"]["app.kubernetes.io/component"]
        for doc in of_kind("PodDisruptionBudget").values()
    }
    for name, deployment in of_kind("Deployment").items():
        spec = deployment["spec"]["template"]["spec"]
        main = container(deployment)
        assert main["resources"]["requests"], name
        assert main["resources"]["limits"]["memory"], name
        assert main["readinessProbe"], name
        assert main["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"] in budgets, name
        args = build_parser().parse_args(main["args"][1:])
        if args.command == "worker":
            # a phase gets its whole shutdown timeout before the kubelet's SIGKILL
            assert spec["terminationGracePeriodSeconds"] > args.shutdown_timeout / 1000 + 30, name
            assert args.shutdown_timeout >= 600_000, name


def test_the_scheduler_runs_twice() -> None:
    # safe: firing claims with SKIP LOCKED, admission under an advisory lock (services/scheduler/tick.py)
    assert of_kind("Deployment")["sis-sync-scheduler"]["spec"]["replicas"] == 2


def test_every_process_command_in_the_manifests_parses() -> None:
    parser = build_parser()
    for doc in manifests():
        template = doc.get("spec", {}).get("template", {}).get("spec", {})
        for c in template.get("containers", []):
            assert c["args"][0] == "sis-sync"
            parser.parse_args(c["args"][1:])
            for probe in ("readinessProbe", "livenessProbe"):
                command = c.get(probe, {}).get("exec", {}).get("command")
                if command:
                    parser.parse_args(command[1:])


def _excepted() -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    (policy,) = of_kind("NetworkPolicy").values()
    blocks = [peer["ipBlock"] for rule in policy["spec"]["egress"] for peer in rule["to"] if "ipBlock" in peer]
    assert {b["cidr"] for b in blocks} == {"0.0.0.0/0", "::/0"}
    return [ipaddress.ip_network(n) for b in blocks for n in b["except"]]


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1", "10.96.0.1", "172.16.0.1", "172.31.255.254", "192.168.1.1", "100.64.0.1", "127.0.0.1",
        "169.254.169.254", "169.254.170.2", "0.0.0.0", "224.0.0.1", "240.0.0.1", "::1", "fd00::1", "fe80::1",
        "fd00:ec2::254", "ff02::1", "::",
    ],
)  # fmt: skip
def test_the_network_policy_refuses_what_the_egress_policy_refuses(address: str) -> None:
    ip = ipaddress.ip_address(address)
    assert classify(ip) is not None  # the service refuses it ...
    assert any(ip in net for net in _excepted() if net.version == ip.version)  # ... and so does the cluster


def test_the_network_policy_lets_the_internet_through_and_covers_the_metadata_addresses() -> None:
    excepted = _excepted()
    for address in ("8.8.8.8", "52.1.2.3", "2606:4700::1111"):
        ip = ipaddress.ip_address(address)
        assert classify(ip) is None
        assert not any(ip in net for net in excepted if net.version == ip.version)
    for ip in METADATA_ADDRESSES:
        if ip != ipaddress.ip_address("100.100.100.200"):  # Alibaba's sits in CGNAT, excepted as a whole
            assert any(ip in net for net in excepted if net.version == ip.version)
    assert any(ipaddress.ip_address("100.100.100.200") in net for net in excepted if net.version == 4)
