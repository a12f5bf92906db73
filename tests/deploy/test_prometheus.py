"""Prometheus: scrape config, and alert rules that read only metrics the code exports."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.deploy.contracts import (
    DEPLOY,
    K8S,
    METRICS_PORT,
    PromRef,
    check_promql,
    kustomize_docs,
    load_yaml,
    ouro_services,
    workloads,
)


def test_promql_scan_catches_mistakes() -> None:
    """The checker itself: a typo in a name, a label, a bucket or a durable is reported."""
    assert check_promql('sum by (service) (rate(ouro_events_handled_total[5m]))', "ok") == []
    assert check_promql("rate(ouro_event_handled_total[5m])", "x")
    assert check_promql("sum by (specialist) (rate(ouro_events_handled_total[5m]))", "x")
    assert check_promql('ouro_training_seconds_bucket{le="7200"}', "x")
    assert check_promql('ouro_events_failed_total{kind="errors"}', "x")
    assert check_promql('nats_consumer_num_pending{consumer_name="judge"}', "x")
    assert check_promql('up{job=~"trainer|judge"}', "x")
    assert check_promql('ouro_eval_score{model="candidate"} - ignoring (model) ouro_eval_score', "ok") == []


# ------------------------------------------------------------------------------------ prometheus


def alert_rules() -> list[dict]:
    return [rule for group in load_yaml(DEPLOY / "prometheus" / "alerts.yml")["groups"] for rule in group["rules"]]


def test_prometheus_scrapes_every_service(compose: dict) -> None:
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    for name in ouro_services(compose):
        sd = jobs[name]["dns_sd_configs"][0]
        assert sd["names"] == [name] and str(sd["port"]) == METRICS_PORT, name
    exporter = compose["services"]["nats-exporter"]["command"]
    assert "-jsz=all" in exporter and "-prefix=nats" in exporter and "-varz" in exporter
    port = next(a.split("=")[1] for a in exporter if a.startswith("-port="))
    assert jobs["nats"]["static_configs"][0]["targets"] == [f"nats-exporter:{port}"]
    for rule_file in config["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file()
    # The job names the alerts expect are the compose services and the Kubernetes Services.
    down = next(r for r in alert_rules() if r["alert"] == "OuroServiceDown")
    expected = set(re.search(r'job=~"([^"]+)"', down["expr"]).group(1).split("|"))
    assert expected == set(ouro_services(compose)) == set(workloads(kustomize_docs(K8S)))


def test_alert_rules_use_only_real_metrics() -> None:
    rules = alert_rules()
    names = [r["alert"] for r in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    problems = []
    for rule in rules:
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
        problems += check_promql(rule["expr"], rule["alert"])
    assert not problems, "\n".join(problems)
    used = set().union(*(PromRef(r["expr"]).metrics for r in rules))
    # What the rules must watch: dead letters, failures, promotions vs rejections, training
    # time, the consumers' backlog, services up.
    assert {"ouro_dead_letters_total", "ouro_events_failed_total", "ouro_promotions_total",
            "ouro_rejections_total", "ouro_training_seconds_bucket", "nats_consumer_num_pending", "up"} <= used


# The failure modes the loop must page someone for, each with its alert (issue: "Trust and sight").
FAILURE_MODES = {
    "service down": "OuroServiceDown",
    "dead letters growing": "OuroDeadLetters",
    "loop stalled": "OuroLoopStalled",
    "no promotion in 7 days": "OuroNoPromotionIn7d",
    "eval score dropped": "OuroEvalScoreDropped",
    "sandbox violations": "OuroSandboxViolations",
}


RULE_TESTS = ("alerts_test.yml", "alerts_test_days.yml")  # the second: evaluated every 30 min (windows of days)


def test_every_failure_mode_has_an_alert_with_a_firing_unit_test() -> None:
    """An alert nobody has seen fire may never fire: alerts_test.yml makes each one go off."""
    rules = {r["alert"] for r in alert_rules()}
    fired = {case["alertname"] for name in RULE_TESTS for test in load_yaml(DEPLOY / "prometheus" / name)["tests"]
             for case in test["alert_rule_test"] if case.get("exp_alerts")}
    for mode, alert in FAILURE_MODES.items():
        assert alert in rules, f"{mode}: no alert {alert} in alerts.yml"
        assert alert in fired, f"{mode}: no unit test in alerts_test.yml expects {alert} to fire"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool not installed (Debian: apt-get install prometheus; .ci/run installs it)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    return path


@pytest.mark.parametrize("args", [
    # --syntax-only: the token file (authorization.credentials_file) exists only in the container
    ["check", "config", "--syntax-only", "prometheus.yml"],
    ["check", "rules", "alerts.yml"],
    ["test", "rules", *RULE_TESTS],
], ids=["check-config", "check-rules", "test-rules"])
def test_promtool(args: list[str]) -> None:
    """What Prometheus itself says about the config, the rules and the rules' unit tests."""
    result = subprocess.run([_promtool(), *args], cwd=DEPLOY / "prometheus", capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
