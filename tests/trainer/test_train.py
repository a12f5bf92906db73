from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from services.trainer.train import CHATML_TRAINING_TEMPLATE, DatasetError, TrainConfig, train_adapter
from shared.events import TrainMetrics

REPO = Path(__file__).resolve().parents[2]
FAST = TrainConfig(epochs=1.0, lora_r=8, lora_alpha=16, learning_rate=1e-2, batch_size=4, max_length=128, max_steps=3)


def test_train_adapter_changes_adapter_not_base(tiny_model: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "adapter"
    metrics = train_adapter(tiny_dataset, tiny_model, out, FAST)

    assert metrics.method == "lora" and metrics.device == "cpu"
    assert metrics.examples == 12 and metrics.steps == 3
    assert math.isfinite(metrics.train_loss) and math.isfinite(metrics.first_loss)
    assert metrics.tokens > 0
    assert {"adapter_model.safetensors", "adapter_config.json", "train_metrics.json"} <= {p.name for p in out.iterdir()}
    assert not list(out.glob("checkpoint-*"))
    assert TrainMetrics.model_validate_json((out / "train_metrics.json").read_text()) == metrics
    # The shipped tokenizer keeps the inference template, not the training one.
    assert CHATML_TRAINING_TEMPLATE not in (out / "tokenizer_config.json").read_text()

    # LoRA B starts at zero: every one of them must have moved.
    adapter = load_file(out / "adapter_model.safetensors")
    lora_b = {k: v for k, v in adapter.items() if "lora_B" in k}
    assert lora_b and all(v.abs().sum() > 0 for v in lora_b.values())
    assert not any("embed" in k or "lm_head" in k for k in adapter)

    base = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch.float32)
    before = {k: v.clone() for k, v in base.state_dict().items()}
    peft_model = PeftModel.from_pretrained(base, out)
    for name, param in peft_model.named_parameters():
        if "lora_" in name:
            continue
        key = name.removeprefix("base_model.model.").replace(".base_layer", "")
        assert torch.equal(param, before[key]), f"base weight {key} changed"
    ids = torch.tensor([[1, 5, 7]])
    assert torch.isfinite(peft_model(input_ids=ids).logits).all()


def test_assistant_only_template_renders_like_chatml(tiny_model: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model)
    messages = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "u"},
        {"role": "assistant", "content": "a"},
    ]
    plain = tok.apply_chat_template(messages, tokenize=False)
    assert tok.apply_chat_template(messages, tokenize=False, chat_template=CHATML_TRAINING_TEMPLATE) == plain
    out = tok.apply_chat_template(
        messages, chat_template=CHATML_TRAINING_TEMPLATE, return_assistant_tokens_mask=True, return_dict=True
    )
    masked = [t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m]
    assert tok.decode(masked) == "a<|im_end|>"


def test_config_from_json_rejects_unknown_fields() -> None:
    assert TrainConfig.from_json('{"max_steps": 2, "target_modules": ["q_proj"]}') == TrainConfig(
        max_steps=2, target_modules=("q_proj",)
    )
    with pytest.raises(ValueError, match="lora_rank"):
        TrainConfig.from_json('{"lora_rank": 4}')


def test_missing_dataset_names_the_directory(tiny_model: Path, tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="no `data` directory"):
        train_adapter(tmp_path, tiny_model, tmp_path / "out", FAST)


def test_worker_cli_prints_metrics_last(tiny_model: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "adapter"
    config = json.dumps({"max_steps": 2, "lora_r": 4, "lora_alpha": 8, "max_length": 128, "max_examples": 8})
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "2", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "services.trainer.worker", "--dataset", str(tiny_dataset), "--base",
         str(tiny_model), "--out", str(out), "--config-json", config],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stdout.strip().splitlines()
    # the progress lines the trainer service relays (services/trainer/progress.py), then the metrics
    assert lines and all(line.startswith("progress ") for line in lines[:-1]), proc.stdout[-2000:]
    assert json.loads(lines[-2].removeprefix("progress "))["step"] == 2  # the last step is always reported
    metrics = TrainMetrics.model_validate_json(lines[-1])
    assert metrics.steps == 2 and metrics.examples == 8
    assert (out / "adapter_model.safetensors").exists()


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="QLoRA needs CUDA")
def test_qlora_on_cuda(tiny_model: Path, tiny_dataset: Path, tmp_path: Path) -> None:
    metrics = train_adapter(tiny_dataset, tiny_model, tmp_path / "adapter", FAST)
    assert metrics.method == "qlora" and metrics.device == "cuda"
    assert math.isfinite(metrics.train_loss)
    assert (tmp_path / "adapter" / "adapter_model.safetensors").exists()
