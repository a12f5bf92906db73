"""The contamination check: n-gram overlap between every training row used and every held-out
prompt and answer.

The same n-gram index and overlap measure as the judge's decontamination
(services/judge/decontaminate.py: word 13-grams, 8-grams for short items), built here over the
full held-out suites (not only the subsets scored), and the overlap of each row reported as a
number rather than a yes/no, so the report shows how close the closest row came.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from services.judge.decontaminate import NgramIndex
from shared.suites import Suite


def held_out_index(suites: Sequence[Suite], n: int = 13, fallback: int = 8) -> NgramIndex:
    index = NgramIndex(key="bench-learning")
    for suite in suites:
        for item in suite.items:
            for text in item.texts():
                index.add(f"{suite.name}/{item.id}", text, n, fallback)
    return index.freeze()


def overlap(index: NgramIndex, text: str) -> tuple[float, str | None]:
    """The judge's own measure (NgramIndex.best_overlap) over every held-out item, and that item."""
    return index.best_overlap(text)


def row_text(messages: Iterable[dict]) -> str:
    return "\n".join(m["content"] for m in messages)


def check_rows(index: NgramIndex, rows: Sequence[Sequence[dict]], threshold: float) -> dict[str, object]:
    """Per dataset: rows checked, how many share any n-gram with a held-out item, how many are
    above the decontamination threshold (must be 0), and the closest row."""
    shares = [overlap(index, row_text(messages)) for messages in rows]
    worst = max(shares, default=(0.0, None), key=lambda s: s[0])
    above = [item for share, item in shares if share > threshold]
    return {"rows": len(rows), "rows_sharing_any_ngram": sum(s > 0 for s, _ in shares),
            "rows_above_threshold": len(above), "max_overlap": round(worst[0], 4), "max_overlap_item": worst[1],
            "above_threshold_items": sorted(set(a for a in above if a))[:20]}


def dataset_rows(dataset_dir: Path) -> list[list[dict]]:
    """The `messages` of every row of a dataset directory exactly as the trainer loads it."""
    from services.trainer.train import load_dataset_dir

    return [list(m) for m in load_dataset_dir(dataset_dir)["messages"]]
