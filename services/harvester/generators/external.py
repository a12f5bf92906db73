"""Local instruction datasets → examples of a configured category.

    ExternalSource(path=Path("data/alpaca.jsonl"), category="instruction", specialist="coder")

A source is a JSONL/JSON file, a Parquet file, a `datasets.save_to_disk` directory (its `train`
split when it has one, else every split), or a directory of such files. Rows are read by their
columns: `messages` (OpenAI), `conversations` (ShareGPT), `instruction`/`input`/`output`
(Alpaca), `prompt`/`response` or `prompt`/`completion`, `question`/`answer`. A row with none of
these, or with an empty side, is skipped and counted, never raised.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services.harvester.base import Context, Draft
from services.harvester.categories import EXTERNAL
from services.harvester.plan import ExternalSource

__all__ = ["External", "ExternalSource"]

NAME = "external"
ROW_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet")
PAIRS = (("instruction", "output"), ("prompt", "response"), ("prompt", "completion"), ("question", "answer"),
         ("query", "response"))
ROLES = {"system": "system", "user": "user", "human": "user", "assistant": "assistant", "gpt": "assistant"}
DATASET_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


def to_messages(row: Any) -> tuple[tuple[str, str], ...] | None:
    """The row as chat messages ending with the assistant's answer, or None when no known columns fit."""
    if not isinstance(row, dict):
        return None
    turns = row.get("messages") if isinstance(row.get("messages"), list) else row.get("conversations")
    if isinstance(turns, list):
        msgs = []
        for t in turns:
            if not isinstance(t, dict):
                return None
            role = ROLES.get(str(t.get("role", t.get("from", ""))).lower())
            content = t.get("content", t.get("value"))
            if role is None or not isinstance(content, str):
                return None
            msgs.append((role, content.strip()))
        while msgs and msgs[-1][0] != "assistant":
            msgs.pop()
        return tuple(msgs) if any(r == "user" for r, _ in msgs) else None
    for q, a in PAIRS:
        if isinstance(row.get(q), str) and isinstance(row.get(a), str):
            prompt = row[q].strip()
            if q == "instruction" and isinstance(row.get("input"), str) and row["input"].strip():
                prompt += "\n\n" + row["input"].strip()
            system = (("system", row["system"].strip()),) if isinstance(row.get("system"), str) and row[
                "system"].strip() else ()
            return (*system, ("user", prompt), ("assistant", row[a].strip()))
    return None


def file_rows(path: Path, ctx: Context) -> Iterator[Any]:
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
    elif path.suffix == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        yield from data if isinstance(data, list) else [data]
    else:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    ctx.skips.add(NAME, "malformed_line")
                    yield None


def source_rows(path: Path, ctx: Context) -> Iterator[Any]:
    if path.is_dir() and any((path / m).exists() for m in DATASET_MARKERS):
        import datasets

        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            splits = ["train"] if "train" in ds else sorted(ds)
            for split in splits:
                yield from ds[split]
        else:
            yield from ds
    elif path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.suffix in ROW_SUFFIXES):
            yield from source_rows(f, ctx)
    else:
        try:
            yield from file_rows(path, ctx)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError):
            ctx.skips.add(NAME, "unreadable_file")


class External:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        for src in ctx.plan.external:
            if src.specialist is not None and src.specialist != ctx.plan.specialist:
                continue
            path = Path(src.path)
            for i, row in enumerate(source_rows(path, ctx)):
                if src.limit is not None and i >= src.limit:
                    break
                if row is None:
                    continue  # a malformed line, already counted
                messages = to_messages(row)
                if messages is None:
                    ctx.skips.add(NAME, "unknown_columns")
                elif not all(c for _, c in messages):
                    ctx.skips.add(NAME, "empty")
                else:
                    yield Draft(generator=NAME, task=EXTERNAL, hint=src.category, messages=messages,
                                source=path.name, path=str(path), lines=(i + 1, i + 1))
