"""A real PEFT adapter on the tiny model, and the registry facts a trained checkpoint has."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ouro.export.adapter import AdapterFacts
from shared.events import ArtifactRef, EvalCompleted, ModelPromoted, TrainMetrics
from shared.registry import CheckpointRecord

CREATED = datetime(2025, 3, 9, tzinfo=UTC)
METRICS = TrainMetrics(method="lora", device="cpu", examples=52, steps=26, epochs=2.0, train_loss=1.234,
                       first_loss=2.5, tokens=4096, duration_s=12.5)
REPORT = {
    "dataset_id": "ds-1", "specialist": "orchestrator", "total": 70, "kept": 52,
    "dropped": {"contaminated": 2, "duplicate:exact": 9, "noise": 7},
    "by_generator": {}, "by_category": {"tool_use": {"kept": 20}, "intent_classification": {"kept": 32}},
    "mix": {}, "contaminated": {"humaneval:HumanEval/1": ["a"], "gsm8k:3": ["b"]},
    "decontamination_index": "idx-abc", "corpus": {"version": 7, "new": 12, "replayed": 40, "cut_by_balance": 0},
    "config": {"decontaminate": True, "builtin_benchmarks": True, "decontam_ngram": 13,
               "decontam_fallback_ngram": 8, "decontam_overlap": 0.5},
}


def build_adapter(base: Path, out: Path, seed: int = 0) -> Path:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(base)
    peft = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                            init_lora_weights=False))
    peft.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)  # the trainer saves the tokenizer with it
    (out / "train_metrics.json").write_text(METRICS.model_dump_json())
    return out


def record(checkpoint_id: str, base_model: str, parent: str | None = None,
           adapter: ArtifactRef | None = None, dataset: ArtifactRef | None = None) -> CheckpointRecord:
    return CheckpointRecord(
        checkpoint_id=checkpoint_id, specialist="orchestrator", base_model=base_model, dataset_id="ds-1",
        adapter=adapter or ArtifactRef(name=f"adapters/{checkpoint_id}", sha256="0" * 64, size=1, kind="dir"),
        metrics=METRICS, created_at=CREATED, parent=parent, dataset=dataset)


def evaluation(checkpoint_id: str) -> EvalCompleted:
    return EvalCompleted(cycle_id="cy", specialist="orchestrator", checkpoint_id=checkpoint_id, suite="orchestrator",
                         prompts=30, suite_version="v" * 64, candidate={"tool_use": 0.5, "intent_classification": 0.9},
                         candidate_overall=0.7, champion_id="p1", champion={"tool_use": 0.4,
                                                                            "intent_classification": 0.8},
                         champion_overall=0.6)


def decision(checkpoint_id: str) -> ModelPromoted:
    return ModelPromoted(cycle_id="cy", specialist="orchestrator", checkpoint_id=checkpoint_id,
                         previous_champion="p1", overall=0.7, categories={"tool_use": 0.5}, reasons=("beat p1",))


def facts(base_model: str) -> AdapterFacts:
    return AdapterFacts(record=record("c2", base_model, parent="p1"), evaluation=evaluation("c2"),
                        decision=decision("c2"), dataset_report=REPORT,
                        ancestors=[record("p1", base_model)], prompts_per_category={"tool_use": 10,
                                                                                    "intent_classification": 20})
