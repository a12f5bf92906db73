"""The adapter the trainer writes has the LoRA shape that was configured, not peft's defaults.

peft's `LoraConfig()` defaults are r=8, lora_alpha=8, lora_dropout=0.0: the values here differ
from all of them, so a trainer that drops any knob on the floor (and silently trains with the
default) fails. The check reads what was written (adapter_config.json and the weight shapes),
which is what the evaluator and vLLM load.
"""

from __future__ import annotations

import json
from pathlib import Path

from safetensors.torch import load_file

from services.trainer.train import TrainConfig, train_adapter

RANK, ALPHA, DROPOUT = 4, 12, 0.1


def test_adapter_has_the_configured_rank_alpha_dropout_and_targets(
    tiny_model: Path, tiny_dataset: Path, tmp_path: Path
) -> None:
    config = TrainConfig(epochs=1.0, lora_r=RANK, lora_alpha=ALPHA, lora_dropout=DROPOUT, batch_size=4,
                         max_length=96, max_steps=1, target_modules=("q_proj", "v_proj"))
    out = tmp_path / "adapter"
    train_adapter(tiny_dataset, tiny_model, out, config)

    written = json.loads((out / "adapter_config.json").read_text())
    assert written["r"] == RANK != 8
    assert written["lora_alpha"] == ALPHA
    assert written["lora_dropout"] == DROPOUT
    assert set(written["target_modules"]) == {"q_proj", "v_proj"}

    weights = load_file(out / "adapter_model.safetensors")
    lora_a = {k: v for k, v in weights.items() if "lora_A" in k}
    lora_b = {k: v for k, v in weights.items() if "lora_B" in k}
    assert lora_a and lora_b
    assert all(v.shape[0] == RANK for v in lora_a.values()), {k: tuple(v.shape) for k, v in lora_a.items()}
    assert all(v.shape[1] == RANK for v in lora_b.values()), {k: tuple(v.shape) for k, v in lora_b.items()}
    assert {k.split(".")[-3] for k in weights} == {"q_proj", "v_proj"}


def test_default_config_is_not_peft_default() -> None:
    """The project's recipe (r=32, alpha=64) is what a cycle trains with unless configured otherwise."""
    default = TrainConfig()
    assert (default.lora_r, default.lora_alpha) == (32, 64)
