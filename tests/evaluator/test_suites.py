from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.evaluator.suites import SUITES_DIR, SuiteError, load_suite
from shared.specialists import profile, specialists


@pytest.mark.parametrize("specialist", list(specialists().names))
def test_every_specialist_has_a_valid_suite_covering_its_categories(specialist: str) -> None:
    prof = profile(specialist)
    suite = load_suite(prof.suite_dir)
    assert set(suite.categories) == set(prof.categories)
    for category in suite.categories:
        items = [i for i in suite.items if i.category == category]
        assert len(items) >= (6 if specialist == "orchestrator" else 2), category


def test_every_shipped_suite_file_validates() -> None:
    files = sorted(SUITES_DIR.glob("*/*.jsonl"))
    assert len(files) >= 9 + 5 + 3
    for path in files:
        suite = load_suite(path)
        assert {item.category for item in suite.items} == {path.stem}, path
        assert all(item.id.startswith(path.stem + "-") for item in suite.items), path


def test_unknown_scorer_fails_at_load_with_file_and_line(tmp_path: Path) -> None:
    good = {"id": "a-01", "category": "a", "messages": [{"role": "user", "content": "hi"}],
            "scorer": {"type": "exact", "expected": "hi"}}  # fmt: skip
    bad = {**good, "id": "a-02", "scorer": {"type": "bleu"}}
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    with pytest.raises(SuiteError, match=r"(?s)a\.jsonl:2: .*bleu"):
        load_suite(path)


def test_unknown_suite_name_lists_shipped() -> None:
    with pytest.raises(SuiteError, match="orchestrator"):
        load_suite("no-such-suite")


def test_head_takes_the_first_items_per_category_as_its_own_version() -> None:
    from shared.suites import load_suite

    whole = load_suite("orchestrator")
    small = whole.head(3)
    per = {c: [i for i in small.items if i.category == c] for c in whole.categories}
    assert set(per) == set(whole.categories) and all(len(v) == 3 for v in per.values())
    assert small.version != whole.version  # its scores are never compared with the whole suite's
    # deterministic scorers first: an open category keeps its checkable items when it has them
    for c, items in per.items():
        checkable = [i for i in whole.items if i.category == c and i.scorer.type != "llm_judge"]
        assert [i.id for i in items][:min(3, len(checkable))] == [i.id for i in checkable][:3]
    assert whole.head(0) is whole and whole.head(10_000).items == whole.items
