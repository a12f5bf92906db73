"""A router in front of the real local stand-in for vLLM, watching a real registry on a real NATS.

The stand-in holds several real (tiny, random) PEFT adapters at once; champions are written to the
registry the way the promoter and `ouro rollback` write them.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from services.evaluator.backends import TransformersBackend
from services.evaluator.local_server import LocalServer, serve
from services.router.service import setup
from services.router.settings import RouterSettings
from shared.bus import Bus
from shared.events import ArtifactRef, TrainMetrics, new_id, utcnow
from shared.registry import REGISTRY_BUCKET, ChampionRecord, CheckpointRecord, Registry
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import fresh_bucket, serving

PROMPT = [{"role": "user", "content": "Which specialist should review the failing test?"}]
MAX_TOKENS = 6


def make_adapter(base: Path, out: Path, seed: int) -> Path:
    torch.manual_seed(seed)  # a different, reproducible random adapter per seed
    model = AutoModelForCausalLM.from_pretrained(base)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft.save_pretrained(out)
    return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Stack:
    bus: Bus
    registry: Registry
    backend: LocalServer  # the stand-in for vLLM
    http: httpx.AsyncClient  # a client of the router
    model_dir: Path
    tmp: Path

    async def champion(self, specialist: str, seed: int) -> tuple[str, int]:
        """Put a new adapter (random, from `seed`) in the store and make it champion; (checkpoint, revision)."""
        store = NatsArtifactStore(await self.bus.object_store(ARTIFACT_BUCKET))
        cid = new_id()
        # in a thread: the router under test shares this event loop
        adapter = await asyncio.to_thread(make_adapter, self.model_dir, self.tmp / "adapters" / cid, seed)
        ref: ArtifactRef = await put_dir(store, f"adapters/test/{cid}", adapter)
        await self.registry.put_checkpoint(CheckpointRecord(
            checkpoint_id=cid, specialist=specialist, adapter=ref, base_model=str(self.model_dir), dataset_id="d",
            created_at=utcnow(), metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1,
                                                      train_loss=1, tokens=1, duration_s=1)))
        _, rev = await self.registry.champion(specialist)
        record = ChampionRecord(checkpoint_id=cid, specialist=specialist, adapter=ref, overall=0.9,
                                categories={"x": 0.9}, promoted_at=utcnow())
        return cid, await self.registry.set_champion(record, rev)

    def expected(self, checkpoint: str | None) -> str:
        """What the adapter of `checkpoint` (None: the base model) answers PROMPT with, in-process."""
        adapter = self.tmp / "adapters" / checkpoint if checkpoint else None
        return TransformersBackend(self.model_dir, adapter).generate([PROMPT], MAX_TOKENS)[0]

    async def until(self, check, timeout: float = 60) -> None:  # noqa: ANN001 - a predicate, sync or async
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            result = check()
            if asyncio.iscoroutine(result):
                result = await result
            if result:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"timed out waiting for {check}")

    async def serves(self, name: str) -> bool:
        r = await self.http.get("/v1/models")
        return name in {m["id"] for m in r.json()["data"]}


@pytest.fixture
def router_settings() -> RouterSettings:
    return RouterSettings(host="127.0.0.1", port=free_port(), base_model_name="base", capture=True,
                          drain_timeout=60)


@pytest.fixture
def backend_key() -> str:
    """The stand-in's --api-key ("": none); a test module overrides it to require one."""
    return ""


@pytest.fixture
async def stack(bus: Bus, tiny_model_dir: Path, tmp_path: Path, router_settings: RouterSettings, backend_key: str
                ) -> AsyncIterator[Stack]:
    backend = serve(TransformersBackend(tiny_model_dir), model_name="base", base_model_dir=tiny_model_dir,
                    api_key=backend_key)
    await fresh_bucket(bus, REGISTRY_BUCKET)
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    settings = router_settings.model_copy(update={"backend_url": backend.url})
    table = await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}", timeout=120) as http:
        async with serving(bus, table):
            s = Stack(bus, registry, backend, http, tiny_model_dir, tmp_path)

            async def up() -> bool:
                try:
                    return (await http.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await s.until(up)
            yield s
    backend.shutdown()
