"""deploy/: NATS refuses anonymous clients everywhere, and every service connects as its own
identity with the permissions of shared/nats_auth.py (the Helm values carry exactly those)."""

from __future__ import annotations

import pytest

from shared.nats_auth import IDENTITIES, helm_users, password_env, permission_matrix
from tests.deploy.contracts import (
    DEPLOY,
    K8S,
    compose_env,
    kustomize_docs,
    load_yaml,
    mounted_secrets,
    ouro_services,
    workloads,
)


@pytest.fixture(scope="module")
def k8s() -> list[dict]:
    return kustomize_docs(K8S)


def test_compose_nats_takes_its_users_from_a_secret_and_each_service_its_password(compose: dict) -> None:
    nats = compose["services"]["nats"]
    conf = nats["command"][nats["command"].index("-c") + 1]
    secret = mounted_secrets(nats)["nats.conf"]
    assert conf == "/run/secrets/nats.conf" and compose["secrets"][secret]["file"] == "./secrets/nats.conf"
    for name, (service, svc) in ouro_services(compose).items():
        env = compose_env(svc)
        assert env["OURO_NATS_USER"] == service and service in IDENTITIES, name
        mounted = mounted_secrets(svc)
        assert env["OURO_NATS_PASSWORD_FILE"] == f"/run/secrets/{next(iter(mounted))}", name
        assert compose["secrets"][mounted["nats-password"]]["file"] == f"./secrets/{service}.password", name


def test_k8s_services_take_their_own_password_from_the_secret(k8s: list[dict]) -> None:
    for name, (service, deployment) in workloads(k8s).items():
        env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
        assert env["OURO_NATS_USER"]["value"] == service, name
        ref = env["OURO_NATS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "ouro-nats-auth", "key": f"{service}.password"}, name


def test_helm_values_set_the_same_users_and_permissions() -> None:
    values = load_yaml(K8S / "nats-values.yaml")
    assert values["config"]["merge"]["authorization"]["users"] == helm_users()
    assert "no_auth_user" not in str(values)
    env = values["container"]["env"]
    for identity in IDENTITIES:
        ref = env[password_env(identity)]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "ouro-nats-auth", "key": f"{identity}.password"}
    assert "create secret generic ouro-nats-auth --from-file=deploy/secrets/" in (DEPLOY / "README.md").read_text()


def test_readme_carries_the_permission_matrix_as_shipped() -> None:
    """The matrix people read is the one the server enforces: regenerated, it is the same text."""
    matrix = permission_matrix()
    assert matrix in (DEPLOY / "README.md").read_text(), "paste `python -m shared.nats_auth --matrix` in"
    assert matrix.count("\n") == len(IDENTITIES) + 2
    emitter = "| `emitter` | `ouro.commits.new.v1`, `ouro.sessions.new.v1` | — | — | — | — | `_INBOX_emitter.>` |"
    assert emitter in matrix
