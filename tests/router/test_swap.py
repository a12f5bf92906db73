"""Swaps that drop nothing: concurrent requests through a promotion and then a rollback.

The stand-in for vLLM fails any request whose adapter is unloaded before its answer is sent, so a
router that unloads too early loses requests here (the second test shows it does).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from tests.router.conftest import MAX_TOKENS, PROMPT, Stack

CLIENTS = 6


@dataclass
class Answer:
    started: float
    finished: float
    status: int
    adapter: str | None
    text: str


async def traffic(stack: Stack, answers: list[Answer], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        started = loop.time()
        r = await stack.http.post("/v1/chat/completions",
                                  json={"model": "orchestrator", "messages": PROMPT, "max_tokens": MAX_TOKENS})
        text = r.json()["choices"][0]["message"]["content"] if r.status_code == 200 else r.text
        answers.append(Answer(started, loop.time(), r.status_code, r.headers.get("x-ouro-adapter"), text))


async def swap_under_load(stack: Stack) -> tuple[list[Answer], dict[str, str]]:
    """v1 serving; promote v2; roll back (v3, v1's weights) — all while CLIENTS clients send requests.
    Returns the answers and, per served name, the text its checkpoint generates."""
    first, rev1 = await stack.champion("orchestrator", seed=1)
    v1 = f"orchestrator-v{rev1}"
    await stack.until(lambda: stack.serves(v1))
    answers: list[Answer] = []
    stop = asyncio.Event()
    clients = [asyncio.create_task(traffic(stack, answers, stop)) for _ in range(CLIENTS)]
    try:
        await stack.until(lambda: len(answers) >= 10)
        second, rev2 = await stack.champion("orchestrator", seed=2)  # a promotion
        v2 = f"orchestrator-v{rev2}"
        await stack.until(lambda: any(a.adapter == v2 for a in answers))
        seen = len(answers)
        await stack.until(lambda: len(answers) >= seen + 10)
        rolled = await stack.registry.rollback("orchestrator")  # back to the first checkpoint, by CAS
        assert rolled.checkpoint_id == first
        _, rev3 = await stack.registry.champion("orchestrator")
        v3 = f"orchestrator-v{rev3}"
        await stack.until(lambda: any(a.adapter == v3 for a in answers))
        seen = len(answers)
        await stack.until(lambda: len(answers) >= seen + 10)
    finally:
        stop.set()
        await asyncio.gather(*clients)
    return answers, {v1: stack.expected(first), v2: stack.expected(second), v3: stack.expected(first)}


async def test_a_promotion_and_a_rollback_under_load_drop_nothing(stack: Stack) -> None:
    answers, texts = await swap_under_load(stack)
    v1, v2, v3 = texts

    failed = [a for a in answers if a.status != 200]
    assert not failed, f"{len(failed)} of {len(answers)} requests failed: {failed[:3]}"
    # every answer names the version it used, and that version really answered it
    assert {a.adapter for a in answers} == {v1, v2, v3}
    for a in answers:
        assert a.text == texts[a.adapter], a
    assert texts[v1] != texts[v2]  # the two adapters are told apart by what they say
    # after a swap only the new version is used: a request started after another one finished
    # never gets an older version than that one got
    order = {v1: 1, v2: 2, v3: 3}
    for a in answers:
        for b in answers:
            if b.started > a.finished:
                assert order[b.adapter] >= order[a.adapter], (a, b)
    # and the old adapters were unloaded once their requests were done: only v3 is left
    await stack.until(lambda: set(stack.backend.adapters) == {v3})
