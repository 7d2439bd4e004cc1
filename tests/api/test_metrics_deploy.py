"""deploy/prometheus/alerts.yml and deploy/grafana/sis-sync.json speak of series the processes
serve: every metric name in a rule or a panel is one the API or a worker pool exposes, and every
family they expose has a panel."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from starlette.testclient import TestClient

from libs.metrics import counters
from libs.settings import Settings
from services.api.app import create_app
from services.workers.metrics import pool_registry

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"\b(?:sis_sync|dramatiq)_[a-z0-9_]+\b")
# the sample names a family of each type exposes
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gauge": ("",),
}


@pytest.fixture
def served(settings: Settings, db: Engine, tmp_path: Path) -> dict[str, str]:
    """Family name -> type, of the API's /metrics and a worker pool's."""
    with TestClient(create_app(settings)) as client:
        texts = [client.get("/metrics").text]
    # a pool serves its processes' counters (defined in libs.metrics.counters) and the same state
    texts.append(generate_latest(pool_registry(settings, tmp_path)).decode())
    texts.append(generate_latest(counters.metrics().registry).decode())
    # a counter's `_created` samples (this process's counters, when a test before counted) read
    # as a family of their own; a pool's multiprocess exposition has none
    families = (f for body in texts for f in text_string_to_metric_families(body))
    return {f.name: f.type for f in families if not f.name.endswith("_created")}


def sample_names(families: dict[str, str]) -> set[str]:
    return {name + suffix for name, kind in families.items() for suffix in SUFFIXES[kind]}


def test_the_alert_rules_are_prometheus_rule_groups_over_served_series(served: dict[str, str]) -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text(encoding="utf-8"))
    assert set(rules) == {"groups"}
    alerts = []
    for group in rules["groups"]:
        assert set(group) <= {"name", "interval", "rules"}
        assert group["name"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["alert"]
            assert rule["expr"]
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}
            assert rule["annotations"]["summary"]
            alerts.append(rule)
    names = {name for rule in alerts for name in NAME.findall(rule["expr"])}
    assert names
    assert names <= sample_names(served), names - sample_names(served)
    # the four the operators asked for
    assert {"sis_sync_runs_finished_total", "sis_sync_providers_stale", "sis_sync_oldest_waiting_run_seconds"} <= names
    assert "sis_sync_lease_expiries_total" in names


def test_the_dashboard_charts_every_served_family_and_nothing_else(served: dict[str, str]) -> None:
    dashboard = json.loads((DEPLOY / "grafana" / "sis-sync.json").read_text(encoding="utf-8"))
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    names = {name for expr in exprs for name in NAME.findall(expr)}
    assert names <= sample_names(served), names - sample_names(served)
    charted = {family for family, kind in served.items() if any(family + s in names for s in SUFFIXES[kind])}
    assert charted == {family for family in served if family.startswith("sis_sync_")}
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
