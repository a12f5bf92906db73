"""deploy/: NATS over TLS only (the server's certificate from the project's CA, verified by every
client), /metrics behind a bearer token that Prometheus sends, vLLM behind `--api-key` that the
evaluator, promoter and router send, the router behind its own key. All from the files that
`python -m shared.nats_auth deploy/secrets` makes, in compose and on Kubernetes."""

from __future__ import annotations

import json
import stat
from pathlib import Path, PurePosixPath

import pytest
from cryptography import x509

from shared.nats_auth import DEPLOY_TOKENS, write_deploy_secrets
from tests.deploy.contracts import (
    DEPLOY,
    K8S,
    compose_env,
    container_env,
    kustomize_docs,
    load_yaml,
    mounted_secrets,
    ouro_services,
    workloads,
)

RUN_SECRETS = PurePosixPath("/run/secrets")


@pytest.fixture(scope="module")
def k8s() -> list[dict]:
    return kustomize_docs(K8S)


def _secret_file(compose: dict, svc: dict, path: str) -> str:
    """The host file (./secrets/...) behind a path under /run/secrets in this service."""
    target = PurePosixPath(path)
    assert target.parent == RUN_SECRETS, path
    source = mounted_secrets(svc).get(target.name)
    assert source, f"nothing mounted at {path}"
    return compose["secrets"][source]["file"]


def test_deploy_secrets_make_every_file_compose_mounts(compose: dict, tmp_path: Path) -> None:
    out = tmp_path / "secrets"
    write_deploy_secrets(out)
    for name, secret in compose["secrets"].items():
        assert (tmp_path / secret["file"]).is_file(), f"secret {name}: {secret['file']} is not made"
    # nats.conf names the certificate, key and CA where compose mounts them in the nats container.
    nats = compose["services"]["nats"]
    tls = json.loads((out / "nats.conf").read_text())["tls"]
    assert _secret_file(compose, nats, tls["cert_file"]) == "./secrets/tls/server.pem"
    assert _secret_file(compose, nats, tls["key_file"]) == "./secrets/tls/server-key.pem"
    assert _secret_file(compose, nats, tls["ca_file"]) == "./secrets/tls/ca.pem"
    # The CA's key is mounted nowhere and stays private; a second run keeps every secret.
    assert "ca-key.pem" not in json.dumps(compose["secrets"])
    assert stat.S_IMODE((out / "tls" / "ca-key.pem").stat().st_mode) == 0o600
    before = {p.name: p.read_bytes() for p in [*out.iterdir(), *(out / "tls").iterdir()] if p.is_file()}
    write_deploy_secrets(out)
    assert {p.name: p.read_bytes() for p in [*out.iterdir(), *(out / "tls").iterdir()] if p.is_file()} == before
    assert {n for n in DEPLOY_TOKENS} <= set(before) and len({before[n] for n in DEPLOY_TOKENS}) == 3


def test_compose_clients_reach_nats_over_tls_and_verify_it(compose: dict, tmp_path: Path) -> None:
    write_deploy_secrets(tmp_path / "secrets")
    cert = x509.load_pem_x509_certificate((tmp_path / "secrets" / "tls" / "server.pem").read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName)
    for name, (_, svc) in ouro_services(compose).items():
        env = compose_env(svc)
        host = env["OURO_NATS_URL"].removeprefix("tls://").rsplit(":", 1)[0]
        assert env["OURO_NATS_URL"].startswith("tls://") and host in names, name
        assert _secret_file(compose, svc, env["OURO_NATS_CA"]) == "./secrets/tls/ca.pem", name
    # The host's CLI: localhost is in the certificate as well.
    assert "localhost" in names


def test_compose_metrics_want_the_token_prometheus_sends(compose: dict) -> None:
    for name, (_, svc) in ouro_services(compose).items():
        token = compose_env(svc)["OURO_METRICS_TOKEN_FILE"]
        assert _secret_file(compose, svc, token) == "./secrets/metrics-token", name
    prometheus = compose["services"]["prometheus"]
    config = load_yaml(DEPLOY / "prometheus" / "prometheus.yml")
    for job in config["scrape_configs"]:
        if job["job_name"] in ouro_services(compose):
            path = job["authorization"]["credentials_file"]
            assert _secret_file(compose, prometheus, path) == "./secrets/metrics-token", job["job_name"]
    assert {j["job_name"] for j in config["scrape_configs"] if "authorization" in j} == set(ouro_services(compose))


def test_compose_vllm_wants_its_key_and_its_clients_send_it(compose: dict) -> None:
    vllm = compose["services"]["vllm"]
    script = " ".join(vllm["entrypoint"])
    key_path = str(RUN_SECRETS / next(t for t, s in mounted_secrets(vllm).items() if s == "vllm-api-key"))
    assert f'--api-key "$$(cat {key_path})"' in script and '"$$@"' in script
    assert compose["secrets"]["vllm-api-key"]["file"] == "./secrets/vllm-api-key"
    services = compose["services"]
    for service, variable in (("evaluator", "OURO_EVALUATOR_ENDPOINT_API_KEY_FILE"),
                              ("promoter", "OURO_PROMOTER_VLLM_API_KEY_FILE"),
                              ("router", "OURO_ROUTER_BACKEND_API_KEY_FILE")):
        svc = services[service]
        assert _secret_file(compose, svc, compose_env(svc)[variable]) == "./secrets/vllm-api-key", service
    router = services["router"]
    assert _secret_file(compose, router, compose_env(router)["OURO_ROUTER_API_KEY_FILE"]) == "./secrets/router-api-key"


def test_k8s_tls_and_tokens(k8s: list[dict]) -> None:
    for name, (service, deployment) in workloads(k8s).items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        env = container_env(k8s, container)
        assert env["OURO_NATS_URL"].startswith("tls://"), name
        ca = PurePosixPath(env["OURO_NATS_CA"])
        mount = next(m for m in container["volumeMounts"] if PurePosixPath(m["mountPath"]) == ca.parent)
        volume = next(v for v in pod["volumes"] if v["name"] == mount["name"])
        assert volume["secret"]["secretName"] == "ouro-nats-tls", name
        assert volume["secret"]["items"] == [{"key": "ca.pem", "path": ca.name}], name  # never the server key
        refs = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in container["env"]}
        assert refs["OURO_METRICS_TOKEN"] == {"name": "ouro-nats-auth", "key": "metrics-token"}, name
        assert container["livenessProbe"]["httpGet"]["path"] != "/metrics", f"{name}: the probe has no token"
        wanted = {"evaluator": ["OURO_EVALUATOR_ENDPOINT_API_KEY"], "promoter": ["OURO_PROMOTER_VLLM_API_KEY"],
                  "router": ["OURO_ROUTER_BACKEND_API_KEY"]}.get(service, [])
        for variable in wanted:
            assert refs[variable] == {"name": "ouro-nats-auth", "key": "vllm-api-key"}, name
    router = workloads(k8s)["router"][1]["spec"]["template"]["spec"]["containers"][0]
    refs = {e["name"]: e.get("valueFrom", {}).get("secretKeyRef") for e in router["env"]}
    assert refs["OURO_ROUTER_API_KEY"] == {"name": "ouro-nats-auth", "key": "router-api-key"}

    values = load_yaml(K8S / "nats-values.yaml")
    tls = values["config"]["nats"]["tls"]
    assert tls["enabled"] and tls["secretName"] == "ouro-nats-tls"
    assert (tls["cert"], tls["key"]) == ("server.pem", "server-key.pem")
    assert values["tlsCA"] == {"enabled": True, "secretName": "ouro-nats-tls", "key": "ca.pem"}
    readme = (DEPLOY / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "create secret generic ouro-nats-tls" in line)
    assert all(f"deploy/secrets/tls/{f}" in command for f in ("ca.pem", "server.pem", "server-key.pem"))
    assert "ca-key.pem" not in command


def test_k8s_service_monitor_sends_the_token() -> None:
    monitor = load_yaml(K8S / "base" / "servicemonitor.yaml")
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["authorization"]["credentials"] == {"name": "ouro-nats-auth", "key": "metrics-token"}

