"""Shares of a hand-rated sample: `python benchmarks/data_quality/summarize.py FILE.jsonl [...]`.

Each line of a ratings file is one example read against the repository's source with the rubric
in README.md: {"id", "specialist", "generator", "category", "correct": bool, "useful": bool,
"defects": [...], "note": "..."}. Prints overall and per-generator shares as JSON, so every figure
in the README and the closing note comes from this command.
"""

from __future__ import annotations

import json
import sys
from collections import Counter, defaultdict
from pathlib import Path


def summarize(rows: list[dict]) -> dict[str, object]:
    def share(rs: list[dict], key: str) -> float:
        return round(sum(bool(r[key]) for r in rs) / len(rs), 3) if rs else 0.0

    by_gen: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_gen[r["generator"]].append(r)
    return {
        "n": len(rows), "correct": share(rows, "correct"), "useful": share(rows, "useful"),
        "defects": dict(Counter(d for r in rows for d in r.get("defects", [])).most_common()),
        "by_generator": {g: {"n": len(rs), "correct": share(rs, "correct"), "useful": share(rs, "useful")}
                         for g, rs in sorted(by_gen.items())},
    }


def main(paths: list[str]) -> int:
    for path in paths:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
        print(json.dumps({"file": path, **summarize(rows)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
