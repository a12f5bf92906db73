"""The promoter's hot-swap against a real HTTP server standing in for vLLM (which needs CUDA).

After a promotion the new adapter is served under an immutable versioned name; after the next
one, the new name serves and the old one is unloaded.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from services.evaluator.backends import OpenAIBackend, TransformersBackend
from services.evaluator.local_server import serve
from services.promoter.service import setup
from services.promoter.settings import PromoterSettings
from shared.bus import Bus
from shared.events import EvalCompleted, ModelPromoted, TrainMetrics, new_id, utcnow
from shared.registry import REGISTRY_BUCKET, CheckpointRecord, Registry
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import events_of, fresh_bucket, serving


def _adapter(base: Path, out: Path, seed: int) -> Path:
    torch.manual_seed(seed)  # a different, reproducible random adapter per promotion
    model = AutoModelForCausalLM.from_pretrained(base)
    peft = get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    peft.save_pretrained(out)
    return out


@pytest.fixture
async def promoter_with_vllm(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    # keyed as vLLM is with --api-key in compose/K8s: the promoter's load/unload must carry it
    server = serve(TransformersBackend(tiny_model_dir), model_name="base", base_model_dir=tiny_model_dir,
                   api_key="vllm-test-key")
    await fresh_bucket(bus, REGISTRY_BUCKET)
    settings = PromoterSettings(ack_wait=5, vllm_url=server.url, min_overall=0.0, min_category=0.0,
                                must_beat_champion=False, vllm_api_key="vllm-test-key")
    async with serving(bus, await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)):
        yield server
    server.shutdown()


async def _promote(bus: Bus, tiny_model_dir: Path, tmp_path: Path, seed: int, champion: str | None) -> str:
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    cid = new_id()
    ref = await put_dir(store, f"adapters/test/{cid}", _adapter(tiny_model_dir, tmp_path / cid, seed))
    await registry.put_checkpoint(CheckpointRecord(
        checkpoint_id=cid, specialist="orchestrator", adapter=ref, base_model=str(tiny_model_dir),
        dataset_id="d", created_at=utcnow(),
        metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1, train_loss=1, tokens=1,
                             duration_s=1),
    ))
    cycle = uuid.uuid4().hex
    await bus.publish(EvalCompleted(
        cycle_id=cycle, specialist="orchestrator", checkpoint_id=cid, suite="orchestrator", prompts=1,
        candidate={"tool_use": 0.5}, candidate_overall=0.5, champion_id=champion, champion={"tool_use": 0.1},
        champion_overall=0.1,
    ))
    events = await events_of(bus, cycle, 2, timeout=60)
    assert isinstance(events[-1], ModelPromoted), events
    return cid


def _served(server) -> set[str]:
    return set(server.adapters)


async def test_promotion_loads_a_versioned_adapter_and_unloads_the_old_one(
    bus: Bus, promoter_with_vllm, tiny_model_dir: Path, tmp_path: Path
) -> None:
    server = promoter_with_vllm
    first = await _promote(bus, tiny_model_dir, tmp_path, 1, None)
    (name1,) = _served(server)
    assert name1.startswith("orchestrator-v")
    # The served name answers with the promoted adapter: exactly what that adapter generates
    # in-process, and not what the bare base model says.
    prompt = [[{"role": "user", "content": "Which specialist should review the failing test?"}]]
    answer = OpenAIBackend(server.url, model=name1, api_key="vllm-test-key").generate(prompt, 8)
    assert answer == TransformersBackend(tiny_model_dir, tmp_path / first).generate(prompt, 8)
    assert answer != TransformersBackend(tiny_model_dir).generate(prompt, 8)

    await _promote(bus, tiny_model_dir, tmp_path, 2, first)
    (name2,) = _served(server)
    assert name2 != name1  # a new immutable name, never an in-place reload
