"""The held-out subsets the learning benchmark scores on: the first items of each category of a
shipped suite, items with deterministic scorers first (an `llm_judge` item graded by a 135M base
model is mostly noise), written as a suite directory the evaluator loads like any other."""

from __future__ import annotations

import json
from pathlib import Path

from shared.suites import SUITES_DIR, Suite, load_suite


def subset(name: str, per_category: int, out_dir: Path) -> Suite:
    """Write the first `per_category` items of each category of the shipped suite `name` to
    `out_dir/name/` (deterministic scorers first, file order within each kind) and load it."""
    if per_category < 1:
        raise ValueError(f"`per_category` must be at least 1, got {per_category}")
    dest = out_dir / name
    dest.mkdir(parents=True, exist_ok=True)
    for path in sorted((SUITES_DIR / name).glob("*.jsonl")):
        rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        rows.sort(key=lambda r: r["scorer"]["type"] == "llm_judge")  # stable: file order within each kind
        (dest / path.name).write_text("".join(json.dumps(r) + "\n" for r in rows[:per_category]), encoding="utf-8")
    return load_suite(dest)


def scorer_mix(suite: Suite) -> dict[str, int]:
    out: dict[str, int] = {}
    for item in suite.items:
        out[item.scorer.type] = out.get(item.scorer.type, 0) + 1
    return dict(sorted(out.items()))
