"""The router asks its clients for an API key and gives vLLM its own; it exposes nothing that writes.

The stand-in for vLLM here is started with an API key, as vLLM is with `--api-key` in compose and
K8s: every answer below came through a backend that refuses requests without it.
"""

from __future__ import annotations

import pytest

from services.router.settings import RouterSettings
from tests.router.conftest import PROMPT, Stack, free_port

CLIENT_KEY = "router-client-key-0b6f"
BACKEND_KEY = "vllm-key-77c2e1"


@pytest.fixture
def backend_key() -> str:
    return BACKEND_KEY


@pytest.fixture
def router_settings() -> RouterSettings:
    return RouterSettings(host="127.0.0.1", port=free_port(), base_model_name="base", capture=False,
                          drain_timeout=60, api_key=CLIENT_KEY, backend_api_key=BACKEND_KEY)


def _auth(key: str = CLIENT_KEY) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_every_route_but_health_wants_the_key(stack: Stack) -> None:
    assert (await stack.http.get("/healthz")).status_code == 200  # probes need no key
    body = {"model": "base", "messages": PROMPT, "max_tokens": 4}
    for headers in ({}, _auth("wrong"), {"Authorization": CLIENT_KEY}):
        r = await stack.http.get("/v1/models", headers=headers)
        assert r.status_code == 401 and "API key" in r.json()["error"]["message"], headers
        assert (await stack.http.post("/v1/chat/completions", json=body, headers=headers)).status_code == 401
    assert (await stack.http.get("/v1/models", headers=_auth())).status_code == 200


async def test_with_the_key_a_champion_is_served_through_a_keyed_backend(stack: Stack) -> None:
    """The adapter was loaded into the backend and the chat forwarded to it: both with vLLM's key."""
    _, rev = await stack.champion("orchestrator", seed=1)
    name = f"orchestrator-v{rev}"

    async def serves() -> bool:
        r = await stack.http.get("/v1/models", headers=_auth())
        return name in {m["id"] for m in r.json()["data"]}

    await stack.until(serves)
    assert name in stack.backend.adapters
    r = await stack.http.post("/v1/chat/completions", headers=_auth(),
                              json={"model": "orchestrator", "messages": PROMPT, "max_tokens": 4})
    assert r.status_code == 200 and r.headers["x-ouro-adapter"] == name, r.text


async def test_nothing_that_writes_is_exposed(stack: Stack) -> None:
    """Adapters are loaded by the router's own registry watch, never through its HTTP API."""
    for method, path in (("POST", "/v1/load_lora_adapter"), ("POST", "/v1/unload_lora_adapter"),
                         ("PUT", "/v1/models"), ("DELETE", "/v1/models"), ("POST", "/v1/models")):
        r = await stack.http.request(method, path, headers=_auth(), json={"lora_name": "x", "lora_path": "/tmp"})
        assert r.status_code == 404, (method, path)
    assert stack.backend.adapters == {}
