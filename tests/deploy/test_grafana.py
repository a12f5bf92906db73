"""The Grafana dashboard: every panel reads a real metric; layout and provisioning."""

from __future__ import annotations

import json
import re

import pytest

from tests.deploy.contracts import (
    DEPLOY,
    PromRef,
    check_promql,
    exported_metrics,
    load_yaml,
    volume,
)

# --------------------------------------------------------------------------------------- grafana


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads((DEPLOY / "grafana" / "dashboards" / "ouroboros.json").read_text())


def panel_exprs(dashboard: dict) -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_uses_only_real_metrics(dashboard: dict) -> None:
    problems = []
    for title, expr in panel_exprs(dashboard):
        problems += check_promql(expr, f"panel {title!r}")
    for variable in dashboard["templating"]["list"]:
        metric, label = re.fullmatch(r"label_values\((\w+),\s*(\w+)\)", variable["definition"]).groups()
        if label not in exported_metrics()[0].get(metric, set()):
            problems.append(f"variable {variable['name']}: {metric} has no label {label}")
    assert not problems, "\n".join(problems)
    used = set().union(*(PromRef(e).metrics for _, e in panel_exprs(dashboard)))
    assert {"ouro_events_handled_total", "ouro_events_failed_total", "ouro_dead_letters_total",
            "ouro_examples_harvested_total", "ouro_judge_kept_total", "ouro_judge_dropped_total",
            "ouro_training_seconds_sum", "ouro_training_loss", "ouro_eval_score", "ouro_promotions_total",
            "ouro_rejections_total", "ouro_secrets_scrubbed_total", "ouro_eval_score_low", "ouro_eval_score_high",
            "ouro_sandbox_runs_total"} <= used


def test_dashboard_layout_and_provisioning(dashboard: dict, compose: dict) -> None:
    panels = dashboard["panels"]
    assert len({p["id"] for p in panels}) == len(panels), "duplicate panel ids"
    cells: set[tuple[int, int]] = set()
    for p in panels:
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24, p["title"]
        cell = {(g["x"] + dx, g["y"] + dy) for dx in range(g["w"]) for dy in range(g["h"])}
        assert not cells & cell, f"panel {p['title']!r} overlaps another"
        cells |= cell

    datasources = load_yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    uid = datasources[0]["uid"]
    assert {p["datasource"]["uid"] for p in panels if p["type"] != "row"} == {uid}
    prometheus_port = compose["services"]["prometheus"]["ports"][0].rsplit(":", 1)[1]
    assert datasources[0]["url"] == f"http://prometheus:{prometheus_port}"

    provider = load_yaml(DEPLOY / "grafana" / "provisioning" / "dashboards" / "ouroboros.yml")["providers"][0]
    mounts = dict(volume(v)[:2] for v in compose["services"]["grafana"]["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
