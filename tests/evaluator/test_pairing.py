"""eval.completed carries the candidate adapter's scores as `candidate` and the champion's (here the
bare base model's) as `champion`, on a suite where the two answer differently.

The suite is built from what the tiny model actually answers: for some prompts the expected
answer is the adapter's output, for one it is the base model's. So the candidate's and the
champion's scores differ per category and overall, and a swapped pair (or a candidate scored
with the base model, or the other way round) fails. The evaluator runs in-process on the real
nats-server, with the real tiny Llama and a real LoRA adapter from the artifact store.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM

from services.evaluator.backends import TransformersBackend
from services.evaluator.scorers import normalise
from services.evaluator.service import setup
from services.evaluator.settings import EvaluatorSettings
from services.evaluator.suites import load_suite
from shared.bus import Bus
from shared.events import CheckpointReady, EvalCompleted, TrainMetrics, new_id
from shared.registry import REGISTRY_BUCKET
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import events_of, fresh_bucket, serving

MAX_NEW_TOKENS = 6
BATCH = 16


def _adapter(base: Path, out: Path) -> Path:
    torch.manual_seed(7)
    model = AutoModelForCausalLM.from_pretrained(base)
    peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=32, target_modules=["q_proj", "v_proj", "o_proj"],
                                            init_lora_weights=False))
    peft.save_pretrained(out)
    return out


def _suite(base: Path, adapter: Path, out: Path) -> tuple[Path, dict[str, float], dict[str, float]]:
    """A suite whose expected answers are the adapter's (3 items) or the base model's (1 item)."""
    items = [i for i in load_suite("reasoner").items][:8]
    prompts = [i.chat() for i in items]
    base_out = TransformersBackend(base, batch_size=BATCH).generate(prompts, MAX_NEW_TOKENS)
    cand_out = TransformersBackend(base, adapter, batch_size=BATCH).generate(prompts, MAX_NEW_TOKENS)
    differ = [k for k in range(len(items)) if normalise(base_out[k]) != normalise(cand_out[k])]
    assert len(differ) >= 4, ("the adapter must change some answers", base_out, cand_out)
    chosen = differ[:4]
    # The evaluator generates for exactly these prompts, batched the same way: regenerate for them.
    prompts = [prompts[k] for k in chosen]
    base_out = TransformersBackend(base, batch_size=BATCH).generate(prompts, MAX_NEW_TOKENS)
    cand_out = TransformersBackend(base, adapter, batch_size=BATCH).generate(prompts, MAX_NEW_TOKENS)
    assert all(normalise(b) != normalise(c) for b, c in zip(base_out, cand_out, strict=True))
    rows = []
    plan = [("adapter_right", cand_out[0]), ("adapter_right", cand_out[1]), ("mixed", cand_out[2]),
            ("mixed", base_out[3])]
    for n, ((category, expected), prompt) in enumerate(zip(plan, prompts, strict=True)):
        rows.append({"id": f"pair-{n}", "category": category, "messages": prompt,
                     "scorer": {"type": "exact", "expected": expected}})
    out.mkdir(parents=True)
    (out / "pairing.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out, {"adapter_right": 1.0, "mixed": 0.5}, {"adapter_right": 0.0, "mixed": 0.5}


@pytest.fixture
async def evaluator(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    adapter = _adapter(tiny_model_dir, tmp_path / "adapter")
    suite_dir, want_candidate, want_champion = _suite(tiny_model_dir, adapter, tmp_path / "suite")
    await fresh_bucket(bus, REGISTRY_BUCKET)
    settings = EvaluatorSettings(ack_wait=10, suite=str(suite_dir), max_new_tokens=MAX_NEW_TOKENS,
                                 batch_size=BATCH)
    async with serving(bus, await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)):
        yield adapter, want_candidate, want_champion


async def test_eval_completed_carries_the_adapters_scores_as_candidate(
    bus: Bus, evaluator, tiny_model_dir: Path
) -> None:
    adapter, want_candidate, want_champion = evaluator
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    cid = new_id()
    ref = await put_dir(store, f"adapters/test/{cid}", adapter)
    cycle = uuid.uuid4().hex
    await bus.publish(CheckpointReady(
        cycle_id=cycle, specialist="reasoner", checkpoint_id=cid, adapter=ref, base_model=str(tiny_model_dir),
        dataset_id="d", metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1,
                                             train_loss=1, tokens=1, duration_s=1),
    ))
    events = await events_of(bus, cycle, 2, timeout=120, until=(EvalCompleted,))
    result = events[-1]
    assert isinstance(result, EvalCompleted), events
    assert result.checkpoint_id == cid and result.champion_id is None and result.prompts == 4
    assert result.candidate == pytest.approx(want_candidate)
    assert result.champion == pytest.approx(want_champion)
    assert result.candidate_overall == pytest.approx(0.75)
    assert result.champion_overall == pytest.approx(0.25)
