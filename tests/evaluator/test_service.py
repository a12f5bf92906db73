"""The evaluator's bus adapter on a real nats-server, generating through an OpenAI-compatible
server with runtime LoRA: the stand-in for vLLM in services/evaluator/local_server.py."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from services.evaluator.backends import TransformersBackend
from services.evaluator.local_server import serve
from services.evaluator.service import setup
from services.evaluator.settings import EvaluatorSettings
from shared.bus import Bus
from shared.events import CheckpointReady, EvalCompleted, TrainMetrics, new_id
from shared.registry import REGISTRY_BUCKET
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import events_of, fresh_bucket, serving


@pytest.fixture
async def evaluator_on_endpoint(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    server = serve(TransformersBackend(tiny_model_dir), model_name="base", base_model_dir=tiny_model_dir)
    await fresh_bucket(bus, REGISTRY_BUCKET)
    settings = EvaluatorSettings(ack_wait=5, suite="reasoner", max_new_tokens=4, endpoint=server.url,
                                 endpoint_base_model="base")
    async with serving(bus, await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)):
        yield server
    server.shutdown()


async def test_candidate_is_loaded_scored_and_unloaded(
    bus: Bus, evaluator_on_endpoint, tiny_model_dir: Path, tmp_path: Path
) -> None:
    server = evaluator_on_endpoint
    loaded: list[str] = []

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model_dir),
                           LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(tmp_path / "adapter")
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    cid = new_id()
    ref = await put_dir(store, f"adapters/test/{cid}", tmp_path / "adapter")

    cycle = uuid.uuid4().hex
    await bus.publish(CheckpointReady(
        cycle_id=cycle, specialist="reasoner", checkpoint_id=cid, adapter=ref,
        base_model=str(tiny_model_dir), dataset_id="d",
        metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1, train_loss=1, tokens=1,
                             duration_s=1),
    ))
    # While it evaluates, the candidate is a model the server serves under a name of its own.
    # (The stream is shared by the whole session: this fresh durable may first re-evaluate a
    # checkpoint another test published, so look for ours by name.)
    mine = f"candidate-{cid[:16]}-"
    deadline = asyncio.get_running_loop().time() + 60
    while not loaded and asyncio.get_running_loop().time() < deadline:
        loaded.extend(a for a in list(server.adapters) if a.startswith(mine))
        await asyncio.sleep(0.01)
    events = await events_of(bus, cycle, 2, timeout=60, until=(EvalCompleted,))
    result = events[-1]
    assert isinstance(result, EvalCompleted), events
    assert len(loaded) == 1 and loaded[0].startswith(mine)
    assert set(result.candidate) == {"reasoning", "math", "non_reasoning"}
    assert result.champion_id is None and set(result.champion) == set(result.candidate)
    assert server.adapters == {}  # unloaded after its evaluation
