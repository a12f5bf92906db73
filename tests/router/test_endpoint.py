"""The OpenAI-compatible endpoint: models, routing by effort, asking by name, streaming, headers."""

from __future__ import annotations

import json

from tests.router.conftest import MAX_TOKENS, PROMPT, Stack


def chat(model: str, content: str | None = None, **extra: object) -> dict:
    messages = [{"role": "user", "content": content}] if content else PROMPT
    return {"model": model, "messages": messages, "max_tokens": MAX_TOKENS, **extra}


async def test_models_lists_auto_the_specialists_the_champions_and_the_base(stack: Stack) -> None:
    _, rev = await stack.champion("coder", seed=3)
    await stack.until(lambda: stack.serves(f"coder-v{rev}"))
    ids = [m["id"] for m in (await stack.http.get("/v1/models")).json()["data"]]
    assert ids == ["auto", "orchestrator", "coder", "reasoner", f"coder-v{rev}", "base"]


async def test_auto_routes_by_effort_and_code_and_says_so_in_headers(stack: Stack) -> None:
    _, rev = await stack.champion("coder", seed=3)
    await stack.until(lambda: stack.serves(f"coder-v{rev}"))

    r = await stack.http.post("/v1/chat/completions", json=chat("auto", "Fix the bug:\n```python\nx = = 1\n```"))
    assert r.status_code == 200
    assert (r.headers["x-ouro-specialist"], r.headers["x-ouro-adapter"]) == ("coder", f"coder-v{rev}")
    assert r.json()["model"] == f"coder-v{rev}"  # the backend was asked for the champion adapter

    # no champion for the reasoner yet: the base model answers for it
    r = await stack.http.post("/v1/chat/completions", json=chat("auto", "Prove that the square root of 2 is "
                                                                         "irrational."))
    assert (r.headers["x-ouro-specialist"], r.headers["x-ouro-adapter"]) == ("reasoner", "base")
    assert int(r.headers["x-ouro-effort"]) >= 7

    r = await stack.http.post("/v1/chat/completions", json=chat("auto", "hello"), headers={"X-Ouro-Effort": "8"})
    assert (r.headers["x-ouro-specialist"], r.headers["x-ouro-effort"]) == ("reasoner", "8")
    r = await stack.http.post("/v1/chat/completions", json=chat("auto", "hello"))
    assert (r.headers["x-ouro-specialist"], r.headers["x-ouro-adapter"]) == ("orchestrator", "base")


async def test_a_client_may_name_a_specialist_a_version_or_the_base(stack: Stack) -> None:
    cid, rev = await stack.champion("orchestrator", seed=1)
    name = f"orchestrator-v{rev}"
    await stack.until(lambda: stack.serves(name))
    for model in ("orchestrator", name):
        r = await stack.http.post("/v1/chat/completions", json=chat(model))
        assert r.headers["x-ouro-adapter"] == name
        assert r.json()["choices"][0]["message"]["content"] == stack.expected(cid)
    r = await stack.http.post("/v1/chat/completions", json=chat("base"))
    assert (r.headers["x-ouro-specialist"], r.headers["x-ouro-adapter"]) == ("base", "base")
    assert r.json()["choices"][0]["message"]["content"] == stack.expected(None)

    r = await stack.http.post("/v1/chat/completions", json=chat("gpt-4"))
    assert r.status_code == 404 and "auto" in r.json()["error"]["message"]
    r = await stack.http.post("/v1/chat/completions", json=chat("auto"), headers={"X-Ouro-Effort": "eleven"})
    assert r.status_code == 400 and "X-Ouro-Effort" in r.json()["error"]["message"]
    r = await stack.http.post("/v1/chat/completions", content=b"{not json")
    assert r.status_code == 400


async def test_stream_true_is_served_as_server_sent_events(stack: Stack) -> None:
    cid, rev = await stack.champion("orchestrator", seed=1)
    await stack.until(lambda: stack.serves(f"orchestrator-v{rev}"))
    async with stack.http.stream("POST", "/v1/chat/completions", json=chat("orchestrator", stream=True)) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        assert r.headers["x-ouro-adapter"] == f"orchestrator-v{rev}"
        lines = [line async for line in r.aiter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in lines[:-1])
    assert text == stack.expected(cid)


async def test_a_removed_champion_puts_the_specialist_back_on_the_base_model(stack: Stack) -> None:
    _, rev = await stack.champion("orchestrator", seed=1)
    name = f"orchestrator-v{rev}"
    await stack.until(lambda: stack.serves(name))
    await stack.registry.kv.delete("champion.orchestrator")
    await stack.until(lambda: not stack.backend.adapters)  # unloaded from the backend
    r = await stack.http.post("/v1/chat/completions", json=chat("orchestrator"))
    assert (r.status_code, r.headers["x-ouro-adapter"]) == (200, "base")
