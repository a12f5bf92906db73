"""Draw the stop-22 hand-rating sample: a fixed number per (specialist, generator, category) stratum of
the named generators, from `ouro harvest --out` files, shuffled with seed 0.

    python benchmarks/data_quality/sample_generators.py OUT.jsonl orchestrator=H_O.jsonl coder=H_C.jsonl \\
        reasoner=H_R.jsonl

Writes the prompt and answer (cut at 600 characters) of each drawn example, without ratings: the
rater adds `correct`, `useful`, `defects` and `note` (the rubric in README.md).
"""

from __future__ import annotations

import collections
import json
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from shared.events import Example  # noqa: E402

QUOTA = {("coder", "mutants", "debugging"): 4, ("coder", "mutants", "review"): 4,
         ("orchestrator", "mutants", "reasoning"): 2, ("orchestrator", "mutants", "code_review"): 2,
         ("reasoner", "record_math", "math"): 7, ("orchestrator", "planning", "orchestration"): 4,
         ("reasoner", "planning", "reasoning"): 2}


def main(out: str, harvests: list[str], generators: tuple[str, ...] = ("mutants", "record_math", "planning")) -> None:
    rows: list[tuple[str, Example]] = []
    for arg in harvests:
        specialist, path = arg.split("=", 1)
        rows += [(specialist, e) for line in open(path, encoding="utf-8")
                 if (e := Example.model_validate_json(line)).generator in generators]
    groups: dict[tuple[str, str, str], list[Example]] = collections.defaultdict(list)
    for specialist, e in sorted(rows, key=lambda r: (r[0], r[1].id)):
        groups[(specialist, e.generator, e.category)].append(e)
    rng = random.Random(0)
    for g in groups.values():  # every stratum shuffled, in the order first seen, drawn or not
        rng.shuffle(g)
    with open(out, "w", encoding="utf-8") as f:
        for key, n in QUOTA.items():
            for e in groups.get(key, [])[:n]:
                prompt = "\n".join(f"<{m.role}> {m.content}" for m in e.messages[:-1])
                f.write(json.dumps({"id": e.id, "specialist": key[0], "generator": e.generator, "category": e.category,
                                    "format": e.format, "source": json.dumps(e.provenance.model_dump(), default=str),
                                    "prompt": prompt[:600], "answer": e.messages[-1].content[:600]}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
