"""What the deploy checks hold deploy/ to: the code's settings, durables and metrics, a PromQL
scan, and the parsers for compose and Kubernetes files. The tests live beside it, one file per
thing deployed (compose, k8s, Prometheus, Grafana, Dockerfile)."""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.utils import floatToGoString
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SERVICES = sorted(p.parent.name for p in (ROOT / "services").glob("*/__main__.py"))
# Services that load the base model and so mount the model cache at <data_dir>/models.
MODEL_USERS = {"harvester", "judge", "trainer", "evaluator"}
METRICS_PORT = "9100"
NATS_URL = "tls://nats:4222"  # TLS only, the server verified against the project's CA


# ---------------------------------------------------------------------------------------- helpers


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def load_yaml_docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


_INTERP = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: Any) -> str:
    """A compose value with ${VAR:-default} resolved to its default (the environment unset)."""
    return _INTERP.sub(lambda m: m.group(2) or "", str(value))


def volume(spec: str) -> list[str]:
    """A compose short-syntax volume, `source:target[:mode]`, interpolated and split."""
    return interpolate(spec).split(":")


def image_name(image: str) -> str:
    """`registry/ouroboros/judge:1.0` → `ouroboros/judge`."""
    name = image.rsplit("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return name


# ------------------------------------------------------------------------- the code's contracts


@functools.cache
def settings_classes() -> dict[str, type[BaseSettings]]:
    """module name → the BaseSettings subclass it defines: CommonSettings and each service's."""
    found: dict[str, type[BaseSettings]] = {}
    for module_name in ["shared.settings", *(f"services.{s}.settings" for s in SERVICES)]:
        module = importlib.import_module(module_name)
        classes = [
            c for c in vars(module).values()
            if inspect.isclass(c) and issubclass(c, BaseSettings) and c.__module__ == module_name
        ]
        assert len(classes) == 1, f"{module_name} should define one settings class, found {classes}"
        found[module_name] = classes[0]
    return found


@functools.cache
def env_names() -> tuple[set[str], set[str]]:
    """(every OURO_* variable the code reads, every env prefix of a settings class)."""
    names: set[str] = set()
    prefixes: set[str] = set()
    for cls in settings_classes().values():
        prefix = cls.model_config.get("env_prefix", "")
        prefixes.add(prefix.upper())
        names |= {f"{prefix}{field}".upper() for field in cls.model_fields}
    # Read directly rather than through a settings class (OURO_LOG_LEVEL in shared/service.py).
    direct = re.compile(r"""os\.(?:environ\.get|getenv|environ\[)\(?\s*["'](OURO_[A-Z0-9_]+)["']""")
    for text in code_texts(("shared", "services", "ouro")):
        names |= set(direct.findall(text))
    return names, prefixes


@functools.cache
def code_texts(folders: tuple[str, ...] = ("shared", "services")) -> tuple[str, ...]:
    return tuple(p.read_text() for folder in folders for p in sorted((ROOT / folder).rglob("*.py")))


@functools.cache
def durables() -> set[str]:
    """The durable consumers the services create (the exporter's consumer_name)."""
    text = "\n".join(code_texts(("services",)))
    return set(re.findall(r'Consumer\(\s*"([^"]+)"', text)) | set(re.findall(r'durable="([^"]+)"', text))


@functools.cache
def scrape_jobs() -> set[str]:
    return {job["job_name"] for job in load_yaml(DEPLOY / "prometheus" / "prometheus.yml")["scrape_configs"]}


@functools.cache
def exported_metrics() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(series name → label names, histogram → its `le` values) as shared/metrics.py exposes them.

    Parsed from the source: Counter("x_total") exposes x_total, Histogram("h") h_bucket (+ le),
    h_sum and h_count, Gauge("g") g.
    """
    from prometheus_client import Histogram

    series: dict[str, set[str]] = {}
    buckets: dict[str, set[str]] = {}
    tree = ast.parse((ROOT / "shared" / "metrics.py").read_text())
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        kind = node.func.id
        if kind not in ("Counter", "Gauge", "Histogram", "Summary"):
            continue
        name = ast.literal_eval(node.args[0])
        labels = set(ast.literal_eval(node.args[2])) if len(node.args) > 2 else set()
        for kw in node.keywords:
            if kw.arg == "labelnames":
                labels = set(ast.literal_eval(kw.value))
        if kind == "Counter":
            base = name.removesuffix("_total")
            series[f"{base}_total"] = labels
            series[f"{base}_created"] = labels
        elif kind == "Gauge":
            series[name] = labels
        else:
            for suffix in ("_sum", "_count", "_created"):
                series[name + suffix] = labels
            if kind == "Histogram":
                series[f"{name}_bucket"] = labels | {"le"}
                bounds = Histogram.DEFAULT_BUCKETS
                for kw in node.keywords:
                    if kw.arg == "buckets":
                        bounds = ast.literal_eval(kw.value)
                buckets[f"{name}_bucket"] = {floatToGoString(float(b)) for b in bounds} | {"+Inf"}
    assert series, "no metric found in shared/metrics.py"
    return series, buckets


# natsio/prometheus-nats-exporter with -prefix=nats (collector/jsz.go): JetStream server, stream
# and consumer series, and the ones read from /varz.
_NATS_SERVER = {"server_id", "server_name", "cluster", "domain", "meta_leader", "is_meta_leader"}
_NATS_STREAM = _NATS_SERVER | {"account", "account_id", "stream_name", "stream_leader", "is_stream_leader"}
_NATS_CONSUMER = _NATS_STREAM | {"consumer_name", "consumer_leader", "is_consumer_leader", "consumer_desc",
                                 "consumer_created"}
EXTERNAL_METRICS: dict[str, set[str]] = {
    "up": set(),
    **{f"nats_server_{m}": _NATS_SERVER for m in (
        "jetstream_disabled", "total_streams", "total_consumers", "total_messages", "total_message_bytes",
        "max_memory", "max_storage")},
    **{f"nats_stream_{m}": _NATS_STREAM for m in (
        "total_messages", "total_bytes", "first_seq", "last_seq", "consumer_count")},
    **{f"nats_consumer_{m}": _NATS_CONSUMER for m in (
        "delivered_consumer_seq", "delivered_stream_seq", "num_ack_pending", "num_redelivered", "num_waiting",
        "num_pending", "ack_floor_stream_seq", "ack_floor_consumer_seq")},
    **{f"nats_varz_{m}": {"server_id"} for m in (
        "connections", "subscriptions", "in_msgs", "out_msgs", "in_bytes", "out_bytes", "slow_consumers",
        "mem", "cpu")},
}
TARGET_LABELS = {"job", "instance"}  # added by Prometheus to every scraped series


# --------------------------------------------------------------------------------- PromQL scan

_PROMQL_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset",
                    "and", "or", "unless", "inf", "nan"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^}]*)\}")
_MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*")')


class PromRef:
    """What one PromQL expression refers to: metric names, their matchers, grouping labels."""

    def __init__(self, expr: str) -> None:
        expr = re.sub(r"\$__(rate_interval|interval|range)\b", "5m", expr)
        self.matchers: list[tuple[str | None, str, str, str]] = []  # (metric, label, op, value)
        for metric, body in _SELECTOR.findall(expr):
            for label, op, value in _MATCHER.findall(body):
                self.matchers.append((metric or None, label, op, json.loads(value)))
        text = _STRING.sub('""', expr)
        self.grouping = {label.strip() for _, labels in _GROUPING.findall(text)
                         for label in labels.split(",") if label.strip()}
        text = _GROUPING.sub(" ", text)
        text = re.sub(r"\{[^}]*\}", " ", text)
        text = re.sub(r"\[[^\]]*\]", " ", text)
        self.metrics = {
            m.group(1) for m in re.finditer(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()", text)
            if m.group(1).lower() not in _PROMQL_KEYWORDS and not re.fullmatch(r"\d+[smhdwy]?", m.group(1))
        }
        self.metrics |= {m for m, _, _, _ in self.matchers if m}


def check_promql(expr: str, where: str) -> list[str]:
    """Problems with one expression against the metrics contract; empty when it holds."""
    series, buckets = exported_metrics()
    known = {**series, **EXTERNAL_METRICS}
    ref = PromRef(expr)
    problems = [f"{where}: unknown metric {m!r}" for m in sorted(ref.metrics) if m not in known]
    if not ref.metrics:
        problems.append(f"{where}: no metric in {expr!r}")
    in_scope = TARGET_LABELS.union(*(known.get(m, set()) for m in ref.metrics))
    problems += [f"{where}: grouping label {label!r} is on none of {sorted(ref.metrics)}"
                 for label in sorted(ref.grouping - in_scope)]
    from shared.events import STREAM_NAME

    for metric, label, op, value in ref.matchers:
        if metric not in known:
            continue
        if label not in known[metric] | TARGET_LABELS:
            problems.append(f"{where}: {metric} has no label {label!r} (labels: {sorted(known[metric])})")
        if label == "job" and op in ("=", "=~") and re.fullmatch(r"[\w|-]+", value):
            problems += [f"{where}: no scrape job {job!r} in prometheus.yml"
                         for job in value.split("|") if job not in scrape_jobs()]
        if op != "=" or "$" in value:
            continue
        if label == "le" and value not in buckets.get(metric, set()):
            problems.append(f"{where}: {metric} has no bucket le={value!r} (buckets: {sorted(buckets[metric])})")
        elif label == "stream_name" and value != STREAM_NAME:
            problems.append(f"{where}: the stream is {STREAM_NAME!r}, not {value!r}")
        elif label == "consumer_name" and value not in durables():
            problems.append(f"{where}: no durable consumer {value!r} (durables: {sorted(durables())})")
        elif metric.startswith("ouro_") and label not in TARGET_LABELS and label != "le":
            # A label value the code sets: it is a string literal somewhere in the code.
            if not any(f'"{value}"' in text or f"'{value}'" in text for text in code_texts()):
                problems.append(f"{where}: no code sets {label}={value!r} on {metric}")
    return problems


def ouro_services(compose: dict) -> dict[str, tuple[str, dict]]:
    """compose service name → (the service under services/ it runs, its definition)."""
    found = {}
    for name, svc in compose["services"].items():
        build = svc.get("build") or {}
        if isinstance(build, dict) and build.get("dockerfile") == "deploy/Dockerfile":
            found[name] = (build["args"]["SERVICE"], svc)
    return found


def compose_env(svc: dict) -> dict[str, str]:
    env = svc.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: interpolate(v) for k, v in env.items()}


def mounted_secrets(svc: dict) -> dict[str, str]:
    """A compose service's secrets: target file name under /run/secrets → the secret's name
    (the short form `- name` mounts the secret `name` at /run/secrets/name)."""
    found = {}
    for s in svc.get("secrets", []):
        name = s if isinstance(s, str) else s["source"]
        found[name if isinstance(s, str) else s.get("target", name)] = name
    return found


def validate_env(env: dict[str, str], service: str, where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The OURO_* values given to a service parse into its settings classes."""
    classes = settings_classes()
    with monkeypatch.context() as m:
        for key in [k for k in os.environ if k.startswith("OURO_")]:
            m.delenv(key)
        for key, value in env.items():
            m.setenv(key, value)
        for module in ("shared.settings", f"services.{service}.settings"):
            try:
                classes[module]()
            except Exception as err:  # noqa: BLE001 - the message names the field
                pytest.fail(f"{where}: {module} rejects its environment: {err}")


def deploy_text_files() -> list[Path]:
    files = [DEPLOY / "compose.yaml", DEPLOY / "compose.gpu.yaml", DEPLOY / "Dockerfile", DEPLOY / "README.md"]
    files += sorted(K8S.rglob("*.yaml"))
    return files


def kustomize_docs(folder: Path) -> list[dict]:
    """The documents of a kustomization's resources, recursively (patches not applied)."""
    kustomization = load_yaml(folder / "kustomization.yaml")
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (folder / resource).resolve()
        assert path.exists(), f"{folder}/kustomization.yaml lists missing {resource}"
        docs += kustomize_docs(path) if path.is_dir() else load_yaml_docs(path)
    return docs


def by_kind(docs: list[dict], kind: str) -> dict[str, dict]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def workloads(docs: list[dict]) -> dict[str, tuple[str, dict]]:
    """Deployment name → (the service under services/ its image runs, the Deployment)."""
    found = {}
    for name, deployment in by_kind(docs, "Deployment").items():
        containers = deployment["spec"]["template"]["spec"]["containers"]
        image = image_name(containers[0]["image"])
        if image.startswith("ouroboros/"):
            found[name] = (image.removeprefix("ouroboros/"), deployment)
    return found


def container_env(docs: list[dict], container: dict) -> dict[str, str]:
    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        ref = source["configMapRef"]["name"]
        assert ref in by_kind(docs, "ConfigMap"), f"envFrom names missing ConfigMap {ref}"
        env |= by_kind(docs, "ConfigMap")[ref]["data"]
    env |= {e["name"]: e.get("value", "") for e in container.get("env", [])}
    return env
