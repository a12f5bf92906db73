from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from services.harvester.base import Context, Draft, Skips
from services.harvester.core import HarvestError, HarvestPlan, harvest
from services.harvester.generators.external import External, ExternalSource

ANSWER = "Use a set to drop duplicates while keeping the first occurrence order via dict.fromkeys(items)."
ROWS = [
    {"instruction": "Deduplicate a list.", "input": "[1, 1, 2]", "output": ANSWER},
    {"prompt": "How do I dedupe?", "response": ANSWER},
    {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Dedupe?"},
                  {"role": "assistant", "content": ANSWER}]},
    {"conversations": [{"from": "human", "value": "Dedupe please"}, {"from": "gpt", "value": ANSWER}]},
    {"text": "no known columns"},
    {"prompt": "Empty answer", "response": "  "},
]


def run(src: ExternalSource, spec: str = "coder") -> tuple[list[Draft], Counter[str]]:
    ctx = Context(plan=HarvestPlan(specialist=spec, external=(src,)), skips=Skips())
    return list(External().run(ctx)), ctx.skips.counts


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    return path


def test_jsonl_columns(tmp_path: Path) -> None:
    drafts, skips = run(ExternalSource(write_jsonl(tmp_path / "d.jsonl", ROWS), "instruction"))
    assert skips == Counter({"external:unknown_columns": 1, "external:empty": 1, "external:malformed_line": 1})
    assert [d.messages[-2:] for d in drafts][0] == (("user", "Deduplicate a list.\n\n[1, 1, 2]"), ("assistant", ANSWER))
    assert drafts[2].messages[0] == ("system", "Be brief.")
    assert drafts[3].messages == (("user", "Dedupe please"), ("assistant", ANSWER))
    assert {d.hint for d in drafts} == {"instruction"} and drafts[1].lines == (2, 2)


def test_parquet_and_save_to_disk(tmp_path: Path) -> None:
    import datasets

    rows = [{"question": f"What is {i}+{i}?",
             "answer": f"{i}+{i} is {2 * i}, since adding a number to itself doubles it."}
            for i in range(4)]
    ds = datasets.Dataset.from_list(rows)
    ds.to_parquet(str(tmp_path / "m.parquet"))
    datasets.DatasetDict({"train": ds, "test": ds.select([0])}).save_to_disk(str(tmp_path / "saved"))
    for path in (tmp_path / "m.parquet", tmp_path / "saved"):
        result = harvest(HarvestPlan(specialist="reasoner",
                                     external=(ExternalSource(path, "math", limit=3),)))
        assert result.by_category == {"math": 3}, path  # train split only, limit applied
        assert result.examples[0].messages[0].content == "What is 0+0?"


def test_category_applies_only_to_specialists_that_have_it(tmp_path: Path) -> None:
    src = ExternalSource(write_jsonl(tmp_path / "d.jsonl", ROWS[:1]), "instruction")
    assert harvest(HarvestPlan(specialist="reasoner", external=(src,))).skipped[
        "external:not_for_reasoner"] == 1
    pinned = ExternalSource(src.path, "instruction", specialist="coder")
    assert run(pinned, "orchestrator")[0] == []


def test_bad_configuration_is_named(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", ROWS)
    with pytest.raises(HarvestError, match="'poetry' is not one of"):
        harvest(HarvestPlan(specialist="coder", external=(ExternalSource(path, "poetry"),)))
    with pytest.raises(HarvestError, match="reasoner has no category 'instruction'"):
        harvest(HarvestPlan(specialist="coder",
                            external=(ExternalSource(path, "instruction", specialist="reasoner"),)))
    with pytest.raises(HarvestError, match="does not exist"):
        harvest(HarvestPlan(specialist="coder", external=(ExternalSource(tmp_path / "nope", "math"),)))
