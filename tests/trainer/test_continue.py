"""Continuing the champion: training starts from its adapter (rank, targets and weights), not
from a fresh adapter whose LoRA B is zero."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from safetensors.torch import load_file

from services.trainer.train import TrainConfig, train_adapter

FAST = TrainConfig(epochs=1.0, lora_r=8, lora_alpha=16, learning_rate=1e-2, batch_size=4, max_length=128, max_steps=3)


def test_training_continues_the_given_adapter(tiny_model: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    first = tmp_path / "champion"
    train_adapter(tiny_dataset, tiny_model, first, replace(FAST, lora_r=4, lora_alpha=8))
    # a tiny learning rate: one continued step barely moves the weights it starts from
    cont = tmp_path / "continued"
    train_adapter(tiny_dataset, tiny_model, cont, replace(FAST, learning_rate=1e-6, max_steps=1), init_adapter=first)
    fresh = tmp_path / "fresh"
    train_adapter(tiny_dataset, tiny_model, fresh, replace(FAST, learning_rate=1e-6, max_steps=1))

    assert json.loads((cont / "adapter_config.json").read_text())["r"] == 4  # the champion's rank, not 8
    a, c, f = (load_file(p / "adapter_model.safetensors") for p in (first, cont, fresh))
    assert set(c) == set(a)
    for key in (k for k in a if "lora_B" in k):
        scale = a[key].abs().max().item()
        assert scale > 0 and (c[key] - a[key]).abs().max().item() < 0.05 * scale, key  # started from the champion
    # a fresh adapter's B starts at zero and, one tiny step later, is still near it
    assert all(v.abs().max().item() < 1e-3 for k, v in f.items() if "lora_B" in k)
