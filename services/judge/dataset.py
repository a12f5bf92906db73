"""Write a judged dataset: `data/` (Hugging Face `datasets`), README.md card, report.json, excluded.jsonl.

The trainer reads it with `datasets.load_from_disk(out_dir / "data")` and trains on `messages`.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from services.judge.core import JudgedDataset

COLUMNS = ("id", "specialist", "category", "generator", "format", "messages")


def _features():  # noqa: ANN202 - datasets is imported lazily (slow import)
    from datasets import Features, List, Value

    text = Value("string")
    return Features(
        {
            "id": text, "specialist": text, "category": text, "generator": text, "format": text,
            # tool_calls / tool_call_id: multi-turn examples in OpenAI's shape (null on plain messages)
            "messages": List({"role": text, "content": text, "tool_call_id": text,
                              "tool_calls": List({"id": text, "type": text,
                                                  "function": {"name": text, "arguments": text}})}),
        }
    )


def write_dataset(ds: JudgedDataset, out_dir: Path) -> str:
    """Write `ds` under `out_dir` (replacing an earlier write) and return its dataset id."""
    from datasets import Dataset

    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "id": e.id, "specialist": str(e.specialist), "category": e.category, "generator": e.generator,
            "format": e.format, "messages": [m.model_dump() for m in e.messages],
        }
        for e in ds.examples
    ]
    data_dir = out_dir / "data"
    if data_dir.exists():
        shutil.rmtree(data_dir)  # save_to_disk refuses to mix with an older write
    # explicit features: an empty dataset still has the columns the trainer expects
    columns = {c: [row[c] for row in rows] for c in COLUMNS}
    # num_shards=1 for an empty dataset: with zero rows datasets writes no shard and cannot load it back
    num_shards = None if rows else 1
    Dataset.from_dict(columns, features=_features()).save_to_disk(str(data_dir), num_shards=num_shards)
    report = {"dataset_id": ds.dataset_id, **ds.report.model_dump(mode="json")}
    (out_dir / "report.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    with (out_dir / "excluded.jsonl").open("w", encoding="utf-8") as fh:
        for r in ds.rejected:
            fh.write(r.model_dump_json(exclude_none=True) + "\n")
    (out_dir / "README.md").write_text(dataset_card(ds), encoding="utf-8")
    return ds.dataset_id


def dataset_card(ds: JudgedDataset) -> str:
    r = ds.report
    mix = "\n".join(
        f"| {c} | {m.kept} | {m.available} | {m.reached:.1%} | {m.target:.1%} | {m.note} |" for c, m in r.mix.items()
    )
    dropped = "\n".join(f"| {reason} | {n} |" for reason, n in r.dropped.items()) or "| (none) | 0 |"
    contaminated = "\n".join(f"- `{item}`: {len(ids)} example(s)" for item, ids in r.contaminated.items()) or "none"
    corpus = (f"\n## Corpus\n\nA snapshot of corpus version **{r.corpus['version']}**: {r.corpus['new']} examples new "
              f"since the last training, {r.corpus['replayed']} replayed from earlier ones, "
              f"{r.corpus['cut_by_balance']} left out by the balance.\n" if r.corpus else "")
    return f"""---
pretty_name: ouroboros {ds.specialist} {ds.dataset_id[:12]}
task_categories: [text-generation]
---
# Ouroboros dataset `{ds.dataset_id}`

Training data for the **{ds.specialist}** specialist, judged by the Ouroboros judge: filtered
(secrets, noise, validity, repetition, length, coherence), deduplicated (exact and MinHash, also
against earlier datasets), decontaminated against HumanEval, MBPP, GSM8K and the evaluation
suites, and balanced toward the specialist's target mix.

Load it with `datasets.load_from_disk("data")`; columns: {", ".join(f"`{c}`" for c in COLUMNS)}.

**{r.kept}** examples kept of {r.total}.
{corpus}
## Mix

| category | kept | available | reached | target | why they differ |
|---|---|---|---|---|---|
{mix}

## Dropped

| reason | count |
|---|---|
{dropped}

## Decontamination matches

{contaminated}

Every rejected example and its reason is in `excluded.jsonl`; counts in `report.json`.
"""
