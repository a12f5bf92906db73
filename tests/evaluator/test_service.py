"""The evaluator's bus adapter on a real nats-server, generating through an OpenAI-compatible
server with runtime LoRA: the stand-in for vLLM in services/evaluator/local_server.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services.evaluator.backends import TransformersBackend
from services.evaluator.local_server import serve
from services.evaluator.service import setup
from services.evaluator.settings import EvaluatorSettings
from shared.bus import Bus
from shared.events import EvalCompleted
from shared.registry import REGISTRY_BUCKET
from shared.settings import CommonSettings
from tests.busutil import events_of, fresh_bucket, serving
from tests.support.checkpoints import announce_checkpoint, tiny_adapter


@pytest.fixture
async def evaluator_on_endpoint(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    # keyed as vLLM is with --api-key in compose/K8s: every call of the evaluator must carry it
    server = serve(TransformersBackend(tiny_model_dir), model_name="base", base_model_dir=tiny_model_dir,
                   api_key="vllm-test-key")
    await fresh_bucket(bus, REGISTRY_BUCKET)
    (tmp_path / "vllm-key").write_text("vllm-test-key\n")  # a mounted secret file
    settings = EvaluatorSettings(ack_wait=5, suite="reasoner", max_new_tokens=4, endpoint=server.url,
                                 endpoint_base_model="base", endpoint_api_key_file=tmp_path / "vllm-key")
    async with serving(bus, await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)):
        yield server
    server.shutdown()


async def test_candidate_is_loaded_scored_and_unloaded(
    bus: Bus, evaluator_on_endpoint, tiny_model_dir: Path, tmp_path: Path
) -> None:
    server = evaluator_on_endpoint
    loaded: list[str] = []

    adapter = tiny_adapter(tiny_model_dir, tmp_path / "adapter")
    cid, cycle = await announce_checkpoint(bus, adapter, tiny_model_dir, "reasoner")
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
