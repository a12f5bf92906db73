"""deploy/k8s: every service has a workload, wired like compose; the GPU overlay and NATS Helm values."""

from __future__ import annotations

import re

import pytest

from tests.deploy.contracts import (
    DEPLOY,
    K8S,
    METRICS_PORT,
    MODEL_USERS,
    NATS_URL,
    SERVICES,
    by_kind,
    container_env,
    kustomize_docs,
    load_yaml,
    validate_env,
    workloads,
)

# ------------------------------------------------------------------------------------ kubernetes





@pytest.fixture(scope="module")
def k8s() -> list[dict]:
    return kustomize_docs(K8S)











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
    assert url == f"tls://{release}:4222"
    assert namespace == load_yaml(K8S / "base" / "kustomization.yaml")["namespace"]
