"""A candidate checkpoint as the trainer would announce it: a real tiny PEFT adapter in the
artifact store and its `checkpoint.ready` on the bus."""

from __future__ import annotations

import uuid
from pathlib import Path

from shared.bus import Bus
from shared.events import CheckpointReady, TrainMetrics, new_id
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir


def tiny_adapter(base: Path, out: Path, r: int = 4) -> Path:
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base),
                           LoraConfig(r=r, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    model.save_pretrained(out)
    return out


async def announce_checkpoint(bus: Bus, adapter: Path, base: Path, specialist: str) -> tuple[str, str]:
    """Store `adapter` and publish its checkpoint.ready; returns (checkpoint id, cycle id)."""
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    cid, cycle = new_id(), uuid.uuid4().hex
    ref = await put_dir(store, f"adapters/test/{cid}", adapter)
    await bus.publish(CheckpointReady(
        cycle_id=cycle, specialist=specialist, checkpoint_id=cid, adapter=ref, base_model=str(base), dataset_id="d",
        metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1, train_loss=1, tokens=1,
                             duration_s=1),
    ))
    return cid, cycle
