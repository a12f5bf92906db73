"""A corrupted adapter is never served: the router checks the SHA-256 of what it fetches against
the champion record's reference and keeps the previous champion serving."""

from __future__ import annotations

import asyncio
import logging

import pytest

from services.router.service import RETRIES
from shared.events import ArtifactRef, utcnow
from shared.registry import ChampionRecord
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.router.conftest import Stack, make_adapter
from tests.router.test_endpoint import chat
from tests.support.tamper import flip_a_byte


async def test_a_champion_whose_adapter_was_tampered_with_is_refused(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    good, rev = await stack.champion("orchestrator", seed=1)
    await stack.until(lambda: stack.serves(f"orchestrator-v{rev}"))

    # A new champion record whose adapter's bytes changed in the store after it was written.
    store = NatsArtifactStore(await stack.bus.object_store(ARTIFACT_BUCKET))
    adapter = await asyncio.to_thread(make_adapter, stack.model_dir, stack.tmp / "adapters" / "bad", 2)
    ref: ArtifactRef = await put_dir(store, "adapters/test/tampered", adapter)
    await flip_a_byte(stack.bus, ref.name)
    caplog.set_level(logging.ERROR, logger="ouro.router")
    _, current = await stack.registry.champion("orchestrator")
    bad_rev = await stack.registry.set_champion(ChampionRecord(
        checkpoint_id="tampered", specialist="orchestrator", adapter=ref, overall=0.99, categories={"x": 0.99},
        promoted_at=utcnow()), current)

    await stack.until(lambda: "corrupt" in caplog.text)
    assert f"attempt 1 of {RETRIES}" in caplog.text
    # Refused before serving: never loaded into the backend, never fetched to the serving dir.
    assert f"orchestrator-v{bad_rev}" not in stack.backend.adapters
    assert not await stack.serves(f"orchestrator-v{bad_rev}")
    r = await stack.http.post("/v1/chat/completions", json=chat("orchestrator"))
    assert r.status_code == 200 and r.headers["x-ouro-adapter"] == f"orchestrator-v{rev}"
    assert r.json()["choices"][0]["message"]["content"] == stack.expected(good)
