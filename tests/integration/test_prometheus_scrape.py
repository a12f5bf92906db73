"""Monitoring proved against the real thing: a Prometheus (Debian's `prometheus` binary) scrapes
the live services of a tiny-model cycle through their authenticated /metrics, then every PromQL
expression of the Grafana dashboard is evaluated through Prometheus' HTTP API. Each must parse and
return data, or be in ONLY_IN_CONDITIONS_NOT_CREATED with the reason.

The same cycle runs with planted secrets (each identity's NATS password, the metrics token, an API
key committed to the mined repository), and none of them may appear in a log, an event or
`ouro status`: one cycle for both checks keeps the wall time down.

Skipped, with the reason printed, only where the `prometheus` binary is absent (.ci/run installs it).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import git
import httpx
import pytest
import yaml

from ouro.stack import ROOT, SERVICES, Stack
from shared.nats_auth import IDENTITIES
from shared.nats_server import free_port
from tests.integration.test_cycle import _cycle, _diagnose, commit_module, tiny_cycle_env

DASHBOARDS = ROOT / "deploy" / "grafana" / "dashboards"
SCRAPE_S = 1
METRICS_TOKEN = "planted-metrics-token-5b1e0c7a9d"
# An AWS-style key in a committed file: the harvester must scrub it before it rides on an event.
PLANTED_KEY = "AKIAQ7PLANTEDSECRET4"
# Jobs as the compose services are named (the dashboard's `up{job=~...}` reads them); the local
# stack runs the judge as one process in both roles.
JOBS = {"harvester": "harvester", "judge": "judge-assembler", "trainer": "trainer", "evaluator": "evaluator",
        "promoter": "promoter"}

# Expressions (Grafana variables substituted as below) that have data only in a condition this test
# does not create, with the reason. Anything else without data fails the test.
NATS_EXPORTER = "reads the NATS exporter (natsio/prometheus-nats-exporter), which the test does not run"
ONLY_IN_CONDITIONS_NOT_CREATED = {
    "sum by (consumer_name) (nats_consumer_num_pending{stream_name=\"OURO\"})": NATS_EXPORTER,
    "sum by (consumer_name) (nats_consumer_num_ack_pending{stream_name=\"OURO\"})": NATS_EXPORTER,
    "nats_server_total_message_bytes / nats_server_max_storage": NATS_EXPORTER,
    "sum by (stream_name) (nats_stream_total_bytes{stream_name=\"OURO\"})": NATS_EXPORTER,
    "sum by (service, kind) (rate(ouro_events_failed_total[1m]))": "a handler failure; a healthy cycle has none",
    "sum by (service, subject) (increase(ouro_dead_letters_total[1m]))": "a dead letter; a healthy cycle has none",
    "sum by (reason) (increase(ouro_harvest_skipped_total[1m]))": "an input the harvester skips (binary, huge)",
    "sum by (specialist) (increase(ouro_rejections_total{specialist=~\".*\"}[1m]))":
        "a rejection: the test's lenient policy promotes its one candidate",
    "sum by (outcome) (increase(ouro_sandbox_runs_total[1m]))":
        "code answers run in the sandbox: the orchestrator's suite has no unit-test items",
}


def _variables(expr: str) -> str:
    """Grafana's variables as the dashboard would fill them over this short run."""
    return (expr.replace("$specialist", ".*").replace("$__rate_interval", "1m").replace("$__interval", "15s")
            .replace("$__range", "10m"))


def dashboard_exprs() -> list[tuple[str, str]]:
    out = []
    for path in sorted(DASHBOARDS.glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            out += [(f"{path.name}: {panel['title']}", _variables(t["expr"])) for t in panel.get("targets", [])]
    return out


def _prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        reason = "the `prometheus` binary is not installed (Debian: apt-get install prometheus; .ci/run does)"
        print(f"SKIPPED: {reason}")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> git.Repo:
    r = git.Repo.init(tmp_path_factory.mktemp("repo"))
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    commit_module(r, "alpha", "feat: add the alpha router")
    config = Path(r.working_tree_dir) / "pkg" / "settings.py"
    settings = '''"""Deployment settings."""


def storage_client_config(region: str) -> dict[str, str]:
    """Credentials and region for the artifact storage client."""
    return {{RETURN}}


def storage_client(region: str) -> object:
    """The artifact storage client for `region`."""
    return dict(storage_client_config(region), retries=3)
'''
    config.write_text(settings.replace("{RETURN}", '{"region": region}'))
    r.index.add([str(config)])
    r.index.commit("feat: add deployment settings")
    # the key arrives as a change to a function something calls: the commit's review shows the diff
    config.write_text(settings.replace("{RETURN}", f'{{"aws_access_key_id": "{PLANTED_KEY}", "region": region}}'))
    r.index.add([str(config)])
    r.index.commit("chore: add the storage credentials")
    return r


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    data = tmp_path_factory.mktemp("ouro")
    token_file = data / "metrics-token"
    token_file.write_text(METRICS_TOKEN)
    ports = {name: free_port() for name in SERVICES}
    s = Stack(data, env=tiny_cycle_env(tiny_model_dir) | {"OURO_METRICS_TOKEN_FILE": str(token_file)},
              port=free_port(), service_env={n: {"OURO_METRICS_PORT": str(p)} for n, p in ports.items()}).start()
    s.metrics_ports, s.token_file = ports, token_file
    yield s
    s.stop()


@pytest.fixture(scope="module")
def prometheus(stack: Stack, tmp_path_factory: pytest.TempPathFactory):
    binary = _prometheus_binary()
    folder = tmp_path_factory.mktemp("prometheus")
    config = {
        "global": {"scrape_interval": f"{SCRAPE_S}s", "scrape_timeout": f"{SCRAPE_S}s",
                   "evaluation_interval": f"{SCRAPE_S}s"},
        "scrape_configs": [
            {"job_name": JOBS[name], "static_configs": [{"targets": [f"127.0.0.1:{port}"]}],
             # as deploy/prometheus/prometheus.yml does: the token from a file, never in the config
             "authorization": {"type": "Bearer", "credentials_file": str(stack.token_file)}}
            for name, port in stack.metrics_ports.items()
        ],
    }
    (folder / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = open(folder / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={folder / 'prometheus.yml'}", f"--storage.tsdb.path={folder}/tsdb",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (folder / "prometheus.log").read_text()[-3000:]
        time.sleep(0.2)
    yield url
    proc.terminate()
    proc.wait(20)
    log.close()


def _query(url: str, expr: str) -> dict:
    return httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()


@pytest.fixture(scope="module")
def cycle(stack: Stack, repo: git.Repo, prometheus: str):
    outcome = asyncio.run(_cycle(stack, repo))
    assert outcome.decision == "promoted", _diagnose(stack, outcome)
    time.sleep(4 * SCRAPE_S)  # the last counts scraped, twice (rate needs two samples)
    return outcome


async def test_every_dashboard_expression_returns_data(stack: Stack, prometheus: str, cycle) -> None:
    # Every service was scraped through its token (a wrong or missing one is a 401: up == 0).
    up = _query(prometheus, "up")["data"]["result"]
    assert {r["metric"]["job"]: r["value"][1] for r in up} == {job: "1" for job in JOBS.values()}, up
    exprs = dashboard_exprs()
    assert len(exprs) >= 30
    stale = set(ONLY_IN_CONDITIONS_NOT_CREATED) - {e for _, e in exprs}
    assert not stale, f"allow-listed expressions no longer on the dashboard: {stale}"
    problems = []
    for where, expr in exprs:
        answer = _query(prometheus, expr)
        if answer["status"] != "success":
            problems.append(f"{where}: does not evaluate: {answer.get('error')} ({expr})")
        elif not answer["data"]["result"] and expr not in ONLY_IN_CONDITIONS_NOT_CREATED:
            problems.append(f"{where}: no data ({expr})")
    assert not problems, "\n".join(problems)


async def test_scrape_without_the_token_is_refused(stack: Stack, cycle) -> None:
    url = f"http://127.0.0.1:{stack.metrics_ports['promoter']}/metrics"
    assert httpx.get(url, timeout=5).status_code == 401
    assert httpx.post(url, headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).status_code == 405


async def test_no_planted_secret_in_logs_events_or_status(stack: Stack, cycle) -> None:
    planted = {f"{name} password": (stack.auth_dir / f"{name}.password").read_text().strip() for name in IDENTITIES}
    planted |= {"metrics token": METRICS_TOKEN, "committed AWS key": PLANTED_KEY}
    events = "\n".join(e.model_dump_json() for e in cycle.events)
    assert "ExamplesHarvested" in {type(e).__name__ for e in cycle.events}  # the key's file was harvested
    env = dict(os.environ, OURO_NATS_URL=stack.url, OURO_DATA_DIR=str(stack.data_dir), PYTHONPATH=str(ROOT))
    status = subprocess.run([sys.executable, "-m", "ouro.cli", "status"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    texts = {"events": events, "ouro status": status.stdout + status.stderr}
    texts |= {f"log {p.name}": p.read_text(errors="replace") for p in sorted(stack.logs.glob("*.log"))}
    leaks = [f"{what} in {where}" for what, secret in planted.items() for where, text in texts.items()
             if secret in text]
    assert not leaks, leaks
    assert "storage_client_config" in events, "the function holding the key was not harvested: nothing tested"


def test_allow_list_reasons_are_given() -> None:
    """An allow-listed expression says why it may be empty (None: it always has data)."""
    for expr, reason in ONLY_IN_CONDITIONS_NOT_CREATED.items():
        assert len(reason) > 20, expr
