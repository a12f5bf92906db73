"""Every export carries a card that says what it holds, where it came from and what was removed."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ouro.export.card import benchmark_licences, corpus_card
from ouro.export.rows import ExportOptions, export_rows
from ouro.export.write import export_corpus
from tests.export.corpora import make_corpus

NOW = datetime(2025, 4, 1, tzinfo=UTC)


def _card(**kw: object) -> dict:
    corpus = make_corpus()
    options = ExportOptions(format="openai", validation_share=0.3)
    return corpus_card(corpus, export_rows(corpus, options), options, exported_at=NOW, **kw)  # type: ignore[arg-type]


def test_counts_by_category_generator_and_source_add_up() -> None:
    card = _card()
    n = card["counts"]["examples"]
    assert n == 54 == card["counts"]["train"] + card["counts"]["validation"]
    assert sum(v["train"] + v["validation"] for v in card["by_category"].values()) == n
    assert sum(card["by_generator"].values()) == n == sum(card["by_source"].values())
    assert card["by_generator"]["external"] == 8 and card["by_source"]["alpaca_cleaned.jsonl"] == 8
    assert card["by_category"]["tool_use"]["train"] + card["by_category"]["tool_use"]["validation"] == 2
    assert card["corpus_version"] == 3 and card["trained_version"] == 1


def test_retirements_and_decontamination_are_reported() -> None:
    card = _card()
    assert card["retired_by_reason"] == {"source_gone:pkg/gone.py": 1, "contaminated:humaneval:HumanEval/53": 1}
    d = card["decontamination"]
    assert d["index"] == "idx-0123456789abcdef"
    assert d["removed_from_corpus"] == 1 and d["removed_from_corpus_by_item"] == {"humaneval:HumanEval/53": 1}
    assert d["threshold"] == {"ngram": 13, "fallback_ngram": 8, "overlap": 0.5}
    assert any(s.startswith("humaneval (MIT)") for s in d["sets"])
    assert any(s.startswith("mbpp (CC-BY-4.0)") for s in d["sets"])
    assert any("suite" in s and "orchestrator" in s for s in d["sets"])
    # what the corpus does not hold is said to be not recorded, not made up
    assert card["judge_drops"] is None and "not recorded" in card["judge_drops_note"]
    assert d["removed_at_intake"] is None and "not recorded" in d["removed_at_intake_note"]


def test_external_licences_named_or_flagged() -> None:
    [unknown] = _card()["external_datasets"]
    assert unknown["examples"] == 8 and unknown["licence"].startswith("not recorded")
    [known] = _card(licences={"alpaca_cleaned.jsonl": "CC-BY-4.0"})["external_datasets"]
    assert known["licence"] == "CC-BY-4.0"
    [by_path] = _card(licences={"data/alpaca_cleaned.jsonl": "Apache-2.0"})["external_datasets"]
    assert by_path["licence"] == "Apache-2.0"


def test_commits_sessions_and_time_range() -> None:
    p = _card()["provenance"]
    assert p["commits"] == 6 and p["commit_list"][0] == "00" * 20
    assert p["sessions"] == 9  # six sessions, the multi-turn one and two tool-call sessions
    assert p["cycles"] == 2
    assert p["entered_from"].startswith("2025-03-01") and p["entered_to"].startswith("2025-03-08")


def test_benchmark_licences_come_from_the_benchmarks_readme() -> None:
    lic = benchmark_licences()
    assert set(lic) == {"gsm8k", "mbpp", "humaneval"}
    assert lic["mbpp"]["licence"] == "CC-BY-4.0" and lic["humaneval"]["licence"] == "MIT"


@pytest.mark.parametrize("fmt", ["hf", "parquet", "openai", "sharegpt", "alpaca"])
def test_every_format_writes_the_card(tmp_path: Path, fmt: str) -> None:
    card = export_corpus(make_corpus(), ExportOptions(format=fmt, validation_share=0.3), tmp_path / "x", now=NOW,
                         licences={"alpaca_cleaned.jsonl": "CC-BY-4.0"})
    assert json.loads((tmp_path / "x" / "card.json").read_text()) == json.loads(json.dumps(card))
    readme = (tmp_path / "x" / "README.md").read_text()
    for needle in ("corpus version 3", "| architecture |", "| ast_code |", "alpaca_cleaned.jsonl", "CC-BY-4.0",
                   "13-grams", "`idx-0123456789abcdef`", "Commits: 6", "Sessions: ", "not recorded",
                   "source_gone:pkg/gone.py", "humaneval (MIT)"):
        assert needle in readme, needle
