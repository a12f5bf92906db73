"""An exported adapter loads with PEFT unchanged; a merged one loads with transformers and answers the same."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from ouro.export.adapter import eval_report, export_adapter, wilson
from ouro.export.rows import ExportError
from tests.export.adapters import build_adapter, evaluation, facts


@pytest.fixture(scope="module")
def adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_adapter(tiny_model_dir, tmp_path_factory.mktemp("adapter") / "a")


def _lora_weights(directory: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(directory / "adapter_model.safetensors"))


def test_the_adapter_loads_with_peft_unchanged(adapter: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = tmp_path / "export"
    card = export_adapter(adapter, facts(str(tiny_model_dir)), out)
    original, exported = _lora_weights(adapter), _lora_weights(out)
    assert original.keys() == exported.keys() and all(torch.equal(original[k], exported[k]) for k in original)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(out))
    loaded = {k: v for k, v in model.state_dict().items() if "lora_" in k}
    assert len(loaded) == len(original) > 0
    assert card["kind"] == "adapter" and card["peft"]["r"] == 4
    assert card["serving"]["vllm"].endswith(f"--max-lora-rank 8 --lora-modules {card['serving']['name']}=<this dir>")
    assert json.loads((out / "card.json").read_text()) == json.loads(json.dumps(card))


def test_the_adapter_card(adapter: Path, tiny_model_dir: Path, tmp_path: Path) -> None:
    card = export_adapter(adapter, facts(str(tiny_model_dir)), tmp_path / "export")
    assert card["base_model"] == str(tiny_model_dir)
    assert card["dataset"]["corpus_version"] == 7 and card["dataset"]["judge_drops"]["noise"] == 7
    assert card["dataset"]["decontamination"]["removed"] == 2
    assert card["train_metrics"]["train_loss"] == 1.234
    assert card["lineage"] == {"parent": "p1", "depth": 1, "note": None, "ancestors": [
        {"checkpoint_id": "p1", "dataset_id": "ds-1", "created_at": "2025-03-09T00:00:00+00:00", "train_loss": 1.234}]}
    assert card["decision"] == {"promoted": True, "reasons": ["beat p1"]}
    tool = card["evaluation"]["categories"]["tool_use"]
    assert tool["prompts"] == 10 and tool["low"] < 0.5 < tool["high"]
    readme = (tmp_path / "export" / "README.md").read_text()
    for needle in (f"base_model: {tiny_model_dir}", "corpus version **7**", "loss 2.5 → 1.234", "95% interval",
                   "Wilson", "promoted: beat p1", "`p1`", "index `idx-abc`", "noise 7", "--lora-modules"):
        assert needle in readme, needle


def test_wilson_intervals() -> None:
    lo, hi = wilson(0.5, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.2366, 0.7634)
    lo, hi = wilson(1.0, 10)
    assert hi == pytest.approx(1.0) and round(lo, 4) == 0.7225
    assert wilson(0.5, 1000)[1] - wilson(0.5, 1000)[0] < wilson(0.5, 10)[1] - wilson(0.5, 10)[0]


def test_without_the_suite_the_prompt_count_is_assumed_even_and_said_so() -> None:
    report = eval_report(evaluation("c"), None)
    assert {v["prompts"] for v in report["categories"].values()} == {15}
    assert "assumed split evenly" in report["interval_method"]
    report = eval_report(evaluation("c"), {"tool_use": 10, "intent_classification": 20})
    assert report["categories"]["intent_classification"]["prompts"] == 20
    assert report["overall"]["low"] < 0.7 < report["overall"]["high"]


def test_merged_model_loads_with_transformers_and_matches_the_adapter(adapter: Path, tiny_model_dir: Path,
                                                                      tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path / "merged"
    card = export_adapter(adapter, facts(str(tiny_model_dir)), out, merge_base=tiny_model_dir)
    assert card["kind"] == "merged_model" and card["serving"] is None
    assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    merged = AutoModelForCausalLM.from_pretrained(out).eval()
    with_adapter = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny_model_dir), str(adapter)).eval()
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval()
    ids = AutoTokenizer.from_pretrained(out)("def add(a, b): return a + b", return_tensors="pt").input_ids
    with torch.no_grad():
        got, want, bare = merged(ids).logits, with_adapter(ids).logits, base(ids).logits
    assert torch.allclose(got, want, atol=1e-4)
    assert not torch.allclose(got, bare, atol=1e-4)  # the adapter is in there


def test_not_an_adapter_is_refused(tmp_path: Path, tiny_model_dir: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExportError, match="not a PEFT adapter"):
        export_adapter(tmp_path / "empty", facts(str(tiny_model_dir)), tmp_path / "out")
    assert not (tmp_path / "out").exists()
