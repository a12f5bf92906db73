"""A checkpoint leaves the loop: its PEFT adapter (for vLLM `--lora-modules`) or a merged full model.

    facts = AdapterFacts(record=..., evaluation=..., decision=..., dataset_report=..., ancestors=[...])
    export_adapter(adapter_dir, facts, out)                             # the adapter + README.md + card.json
    export_adapter(adapter_dir, facts, out, merge_base=base_model_dir)  # merged safetensors model + card

The card names the base model, the dataset and corpus version, the training metrics, the
evaluation with a 95% interval per category, the promoter's decision and the lineage. The
evaluator records a mean score per category, not per-prompt outcomes, so each interval is a
Wilson score interval from the mean and the category's prompt count, treating the mean as a
pass rate: exact for pass/fail scorers, an approximation for partial-credit ones.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ouro.export.rows import ExportError
from ouro.export.write import atomic_dir, check_target
from shared.events import EvalCompleted, ModelPromoted, ModelRejected
from shared.registry import CheckpointRecord

Z95 = 1.959964
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")
VLLM_MAX_LORA_RANKS = (1, 8, 16, 32, 64, 128, 256, 320, 512)  # the values vLLM's --max-lora-rank takes


@dataclass(frozen=True)
class AdapterFacts:
    record: CheckpointRecord
    evaluation: EvalCompleted | None = None
    decision: ModelPromoted | ModelRejected | None = None
    dataset_report: Mapping[str, Any] | None = None  # the report.json of the dataset it was trained on
    ancestors: list[CheckpointRecord] = field(default_factory=list)  # parent first
    prompts_per_category: Mapping[str, int] | None = None  # from the suite, when its version matches


def wilson(p: float, n: int, z: float = Z95) -> tuple[float, float]:
    if n <= 0:
        return 0.0, 1.0
    p = min(1.0, max(0.0, p))
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def eval_report(ev: EvalCompleted, per_category: Mapping[str, int] | None) -> dict[str, Any]:
    cats = sorted(ev.candidate)
    if per_category is not None and all(c in per_category for c in cats):
        counts, how_n = {c: per_category[c] for c in cats}, "prompts per category from the suite (same version)"
    else:
        even = max(1, ev.prompts // max(1, len(cats)))
        counts = {c: even for c in cats}
        how_n = (f"the suite of this version is not at hand: its {ev.prompts} prompts assumed split evenly over "
                 f"{len(cats)} categories")
    rows = {}
    for c in cats:
        lo, hi = wilson(ev.candidate[c], counts[c])
        rows[c] = {"score": round(ev.candidate[c], 4), "prompts": counts[c], "low": round(lo, 4),
                   "high": round(hi, 4), "champion": round(ev.champion.get(c, float("nan")), 4)}
    # the overall score is the mean of the category means: a normal interval from their variances
    var = sum(ev.candidate[c] * (1 - ev.candidate[c]) / counts[c] for c in cats) / max(1, len(cats)) ** 2
    half = Z95 * math.sqrt(max(0.0, var))
    return {
        "suite": ev.suite, "suite_version": ev.suite_version, "prompts": ev.prompts,
        "overall": {"score": round(ev.candidate_overall, 4), "low": round(max(0.0, ev.candidate_overall - half), 4),
                    "high": round(min(1.0, ev.candidate_overall + half), 4)},
        "champion_id": ev.champion_id, "champion_overall": round(ev.champion_overall, 4),
        "categories": rows,
        "interval_method": ("95% Wilson score interval per category from the mean score and the prompt count, "
                            "treating the mean as a pass rate (exact for pass/fail scorers, approximate for "
                            "partial credit); overall: normal interval of the mean of category means. "
                            f"Prompt counts: {how_n}."),
    }


def adapter_config(adapter_dir: Path) -> dict[str, Any]:
    path = adapter_dir / "adapter_config.json"
    if not path.is_file() or not any((adapter_dir / w).is_file() for w in ADAPTER_WEIGHTS):
        raise ExportError(f"{adapter_dir} is not a PEFT adapter (no adapter_config.json and adapter weights)")
    return json.loads(path.read_text(encoding="utf-8"))


def adapter_card(adapter_dir: Path, facts: AdapterFacts, *, merged: bool, exported_at: datetime) -> dict[str, Any]:
    r = facts.record
    cfg = adapter_config(adapter_dir)
    report = facts.dataset_report or {}
    config = report.get("config") or {}
    rank = int(cfg.get("r") or 0)
    name = f"{r.specialist}-{r.checkpoint_id[:12]}"
    return {
        "kind": "merged_model" if merged else "adapter",
        "checkpoint_id": r.checkpoint_id, "specialist": str(r.specialist), "base_model": r.base_model,
        "created_at": r.created_at.isoformat(), "exported_at": exported_at.isoformat(),
        "peft": {"type": cfg.get("peft_type"), "r": rank, "lora_alpha": cfg.get("lora_alpha"),
                 "target_modules": sorted(cfg.get("target_modules") or []),
                 "modules_to_save": cfg.get("modules_to_save")},
        "dataset": {
            "id": r.dataset_id, "recorded": facts.dataset_report is not None,
            "corpus_version": (report.get("corpus") or {}).get("version"),
            "kept": report.get("kept"), "total": report.get("total"), "judge_drops": report.get("dropped"),
            "by_category": {c: v.get("kept", 0) for c, v in (report.get("by_category") or {}).items()},
            "decontamination": None if not report else {
                "enabled": config.get("decontaminate"), "index": report.get("decontamination_index"),
                "builtin_benchmarks": config.get("builtin_benchmarks"),
                "threshold": {"ngram": config.get("decontam_ngram"),
                              "fallback_ngram": config.get("decontam_fallback_ngram"),
                              "overlap": config.get("decontam_overlap")},
                "removed": sum(len(v) for v in (report.get("contaminated") or {}).values()),
                "removed_by_item": {k: len(v) for k, v in (report.get("contaminated") or {}).items()},
            },
        },
        "train_metrics": r.metrics.model_dump(mode="json"),
        "evaluation": eval_report(facts.evaluation, facts.prompts_per_category) if facts.evaluation else None,
        "decision": None if facts.decision is None else {
            "promoted": isinstance(facts.decision, ModelPromoted), "reasons": list(facts.decision.reasons)},
        "lineage": {
            "parent": r.parent, "depth": len(facts.ancestors),
            "ancestors": [{"checkpoint_id": a.checkpoint_id, "dataset_id": a.dataset_id,
                           "created_at": a.created_at.isoformat(), "train_loss": a.metrics.train_loss}
                          for a in facts.ancestors],
            "note": None if r.parent is None or facts.ancestors else "the parent is no longer in the registry",
        },
        "serving": None if merged else {
            "name": name,
            "vllm": f"vllm serve <base model dir> --enable-lora --max-lora-rank "
                    f"{next((x for x in VLLM_MAX_LORA_RANKS if x >= rank), rank)} --lora-modules {name}=<this dir>",
            "warning": ("modules_to_save are not served by vLLM: merge instead (--merge)"
                        if cfg.get("modules_to_save") else None),
        },
    }


def _fmt(x: object) -> str:
    return "n/a" if x is None else str(x)


def adapter_markdown(card: Mapping[str, Any]) -> str:
    ds, ev, lin, m = card["dataset"], card["evaluation"], card["lineage"], card["train_metrics"]
    what = ("a full model: the base model with the adapter merged in (safetensors); load it with "
            "`AutoModelForCausalLM.from_pretrained(DIR)`" if card["kind"] == "merged_model" else
            f"a PEFT LoRA adapter (r={card['peft']['r']}, alpha={card['peft']['lora_alpha']}, targets "
            f"{', '.join(card['peft']['target_modules'])}); load it with `PeftModel.from_pretrained(base, DIR)` "
            f"or serve it with\n\n    {card['serving']['vllm']}\n")
    if ev:
        cats = "\n".join(f"| {c} | {v['score']:.3f} | [{v['low']:.3f}, {v['high']:.3f}] | {v['prompts']} | "
                         f"{v['champion']:.3f} |" for c, v in ev["categories"].items())
        o = ev["overall"]
        evaluation = (f"Suite `{ev['suite']}` (version `{ev['suite_version'][:12]}`), {ev['prompts']} prompts, "
                      f"greedy. Overall **{o['score']:.3f}** [{o['low']:.3f}, {o['high']:.3f}] against the "
                      f"champion's {ev['champion_overall']:.3f} (`{ev['champion_id'] or 'base model'}`).\n\n"
                      "| category | score | 95% interval | prompts | champion |\n|---|---|---|---|---|\n"
                      f"{cats}\n\nIntervals: {ev['interval_method']}")
    else:
        evaluation = "Not evaluated: no `done.eval` record for this checkpoint in the registry."
    decision = ("no decision recorded" if card["decision"] is None else
                ("promoted" if card["decision"]["promoted"] else "rejected")
                + (f": {'; '.join(card['decision']['reasons'])}" if card["decision"]["reasons"] else ""))
    deco = ds["decontamination"]
    deco_text = ("not recorded (the checkpoint's dataset is not in the registry)" if deco is None else
                 f"index `{deco['index']}`, word {deco['threshold']['ngram']}-grams "
                 f"({deco['threshold']['fallback_ngram']} for short items), overlap > {deco['threshold']['overlap']}, "
                 f"built-in benchmarks {'on' if deco['builtin_benchmarks'] else 'off'}; removed {deco['removed']}"
                 + (f" ({', '.join(f'`{k}`' for k in deco['removed_by_item'])})" if deco["removed_by_item"] else ""))
    drops = ", ".join(f"{k} {v}" for k, v in (ds["judge_drops"] or {}).items()) or "none recorded"
    ancestors = " ← ".join(f"`{a['checkpoint_id'][:12]}`" for a in lin["ancestors"]) or "none (trained from the base)"
    warning = f"\n**Warning:** {card['serving']['warning']}\n" if card["serving"] and card["serving"]["warning"] else ""
    return f"""---
base_model: {card['base_model']}
library_name: {'transformers' if card['kind'] == 'merged_model' else 'peft'}
tags: [ouroboros, {card['specialist']}, lora]
---
# Ouroboros {card['specialist']} checkpoint `{card['checkpoint_id']}`

This is {what}
{warning}
- Base model: `{card['base_model']}`
- Trained: {card['created_at']} ({m['method']} on {m['device']}), exported {card['exported_at']}

## Data

Dataset `{ds['id']}`, a snapshot of corpus version **{_fmt(ds['corpus_version'])}**: {_fmt(ds['kept'])} examples
kept of {_fmt(ds['total'])} judged ({', '.join(f'{k} {v}' for k, v in ds['by_category'].items()) or 'n/a'}).
The judge's drops: {drops}. Decontamination: {deco_text}.

## Training

{m['examples']} examples, {m['steps']} steps, {m['epochs']} epochs, {m['tokens']} tokens in {m['duration_s']} s;
loss {_fmt(m['first_loss'])} → {m['train_loss']}.

## Evaluation

{evaluation}

Decision: {decision}.

## Lineage

Parent: `{lin['parent'] or 'none'}`; ancestors, parent first: {ancestors}.{' ' + lin['note'] if lin['note'] else ''}

Machine-readable: `card.json`.
"""


def merge_adapter(adapter_dir: Path, base_dir: Path, out: Path) -> None:
    """The base model with the adapter merged in, saved as safetensors with the adapter's tokenizer."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype="auto")
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(out), safe_serialization=True)
    has_tokenizer = (adapter_dir / "tokenizer_config.json").is_file()
    AutoTokenizer.from_pretrained(str(adapter_dir if has_tokenizer else base_dir)).save_pretrained(str(out))


def export_adapter(adapter_dir: Path, facts: AdapterFacts, out: Path, *, merge_base: Path | None = None,
                   force: bool = False, now: datetime | None = None) -> dict[str, Any]:
    """Write the adapter (or, with `merge_base`, the merged model) and its card to `out`, all or nothing."""
    check_target(out, force)
    card = adapter_card(adapter_dir, facts, merged=merge_base is not None, exported_at=now or datetime.now(UTC))
    with atomic_dir(out, force) as tmp:
        if merge_base is not None:
            merge_adapter(adapter_dir, merge_base, tmp)
        else:
            for path in sorted(adapter_dir.iterdir()):
                if path.name in ("README.md", "card.json"):
                    continue  # PEFT's template card is replaced by ours
                (shutil.copytree if path.is_dir() else shutil.copy2)(path, tmp / path.name)
        (tmp / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(adapter_markdown(card), encoding="utf-8")
    return card
