"""deploy/compose.yaml: every service, wired to NATS and /metrics, its env valid for its settings."""

from __future__ import annotations

import re

import pytest

from tests.deploy.contracts import (
    DEPLOY,
    METRICS_PORT,
    MODEL_USERS,
    NATS_URL,
    ROOT,
    SERVICES,
    compose_env,
    deploy_text_files,
    env_names,
    interpolate,
    load_yaml,
    ouro_services,
    validate_env,
    volume,
)

# ------------------------------------------------------------------------------------- compose




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


def test_compose_vllm_profile_is_wired_to_the_router(compose: dict) -> None:
    vllm = compose["services"]["vllm"]
    assert vllm["profiles"] == ["gpu"]
    assert vllm["image"].startswith("vllm/vllm-openai")
    assert "--enable-lora" in vllm["command"]
    assert compose_env(vllm)["VLLM_ALLOW_RUNTIME_LORA_UPDATING"].lower() == "true"
    assert vllm["deploy"]["resources"]["reservations"]["devices"][0]["capabilities"] == ["gpu"]
    port = vllm["command"][vllm["command"].index("--port") + 1]

    # The router loads the champions into vLLM from a path under its data dir: vLLM must see it.
    router = next(s for service, s in ouro_services(compose).values() if service == "router")
    assert router["profiles"] == ["gpu"]
    assert compose_env(router)["OURO_ROUTER_BACKEND_URL"] == f"http://vllm:{port}"
    data_dir = compose_env(router)["OURO_DATA_DIR"]
    router_volume = next(volume(v)[0] for v in router["volumes"] if volume(v)[1] == data_dir)
    assert any(volume(v)[:2] == [router_volume, data_dir] for v in vllm["volumes"])

    # ... and only the router: a promoter hot-swap would unload adapters under in-flight requests.
    gpu = load_yaml(DEPLOY / "compose.gpu.yaml")
    assert gpu["services"]["promoter"]["environment"]["OURO_PROMOTER_VLLM_URL"] == ""
    for name in ("trainer", "evaluator"):
        assert interpolate(gpu["services"][name]["build"]["args"]["TORCH_VARIANT"]).startswith("cu")
        assert gpu["services"][name]["deploy"]["resources"]["reservations"]["devices"][0]["driver"] == "nvidia"
    assert set(gpu["services"]) <= set(compose["services"])


def test_compose_env_validates_against_the_settings(compose: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, (service, svc) in ouro_services(compose).items():
        validate_env(compose_env(svc), service, name, monkeypatch)


# ------------------------------------------------------------------------------- env variables


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
