"""The coherence cascade: a static table distilled from MiniLM decides clear pairs, MiniLM the rest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from services.judge import JudgeConfig, build_filters
from services.judge.batch import filter_batch
from services.judge.filters import coherence_static
from services.judge.filters.coherence import CoherenceFilter
from services.judge.filters.coherence_static import load_static_table, minilm_rows, static_table_path
from tests.judge.conftest import make

SORT = "How do I sort a list of strings by length in Python?"
ON_TOPIC = (SORT, "Sort the list with sorted(items, key=len), which orders the strings by their length.")
OFF_TOPIC = [
    (SORT, "The recipe needs three eggs, flour and butter; bake it for forty minutes."),
    ("Explain the promoter's rollback.", "Bananas are rich in potassium and grow in the tropics."),
]
BORDERLINE = [
    (SORT, "Use a key function."),
    ("What does the judge do with duplicate examples?",
     "It drops near duplicates with MinHash over word shingles, keeping the best-ranked copy."),
]
# 40 real harvested pairs (`ouro harvest --repo . --sessions examples/sessions`, orchestrator and
# coder): all 24 that MiniLM drops in a 2,400-pair sample, 16 it keeps; texts cut to what the window reads
REAL = [json.loads(x) for x in (Path(__file__).parent / "coherence_real_pairs.jsonl").read_text().splitlines()]


def test_clear_pairs_are_decided_by_the_static_table_and_borderline_ones_by_minilm() -> None:
    # threshold 0.3, margin 0.2: static >= 0.5 keeps, static < 0.1 drops, MiniLM in between
    f = CoherenceFilter(threshold=0.3, cache=None)
    pairs = [ON_TOPIC, *OFF_TOPIC, *BORDERLINE]
    decided = f.decide(pairs, [0.3] * len(pairs))
    assert [scorer for scorer, _ in decided] == ["static", "static", "static", "minilm", "minilm"]
    assert decided[0][1] >= 0.5 and all(s < 0.1 for _, s in decided[1:3])
    # a deferred pair carries MiniLM's own score
    assert [s for _, s in decided[3:]] == pytest.approx(f.score(BORDERLINE), abs=1e-6)
    assert f.decided == {"static": 3, "minilm": 2}


def test_a_kept_example_records_which_scorer_decided() -> None:
    f = CoherenceFilter(threshold=0.3, cache=None)
    clear, borderline = make(ON_TOPIC[1], prompt=ON_TOPIC[0]), make(BORDERLINE[1][1], prompt=BORDERLINE[1][0])
    out = filter_batch([clear, borderline, make(OFF_TOPIC[0][1], prompt=OFF_TOPIC[0][0])], [f])
    kept = {e.id: e.scores for e in out.kept}
    assert set(kept[clear.id]) == {"coherence_static"}  # no MiniLM score: MiniLM never saw it
    assert set(kept[borderline.id]) == {"coherence"}
    assert [r.reason for r in out.rejected] == ["coherence"]


def test_without_the_cascade_minilm_scores_every_pair() -> None:
    f = CoherenceFilter(threshold=0.3, cache=None, cascade=False)
    decided = f.decide([ON_TOPIC, *OFF_TOPIC], [0.3] * 3)
    assert [scorer for scorer, _ in decided] == ["minilm"] * 3
    assert f.static is None


def test_the_judge_runs_the_cascade_unless_configured_off(tokenizer_dir) -> None:
    def coherence(config: JudgeConfig) -> CoherenceFilter:
        return next(f for f in build_filters(config, "orchestrator", tokenizer_dir) if f.name == "coherence")

    assert coherence(JudgeConfig()).static is not None
    assert coherence(JudgeConfig(coherence_cascade=False)).static is None


def test_the_static_table_is_made_of_minilm_rows_and_read_back_from_the_cache(monkeypatch) -> None:
    load_static_table()  # built on this machine's first use
    raw = np.load(static_table_path())
    pieces = [1996, 4066, 18750, 29612]  # "the", "sort", "python", "##!"
    # each cached row is MiniLM run on `[CLS] piece [SEP]`, mean-pooled
    np.testing.assert_allclose(raw[pieces], minilm_rows(pieces), atol=1e-4)

    def no_build(*args, **kwargs):
        raise AssertionError("the table was rebuilt instead of read from the cache")

    first = load_static_table()
    load_static_table.cache_clear()  # a new process: only the file is left
    monkeypatch.setattr(coherence_static, "minilm_rows", no_build)
    again = load_static_table()
    assert again is not first
    np.testing.assert_array_equal(again.rows, first.rows)


def test_a_missing_table_is_built_once_into_the_given_cache(tmp_path: Path, monkeypatch) -> None:
    calls = []
    real = np.load(static_table_path())

    def rows_counted(*args, **kwargs):  # MiniLM over 30k pieces takes minutes on a loaded CPU
        calls.append(1)
        return real

    monkeypatch.setattr(coherence_static, "minilm_rows", rows_counted)
    load_static_table.cache_clear()
    try:
        built = load_static_table(tmp_path)
        assert static_table_path(tmp_path).exists() and calls == [1]
        load_static_table.cache_clear()
        assert np.array_equal(load_static_table(tmp_path).rows, built.rows) and calls == [1]
    finally:
        load_static_table.cache_clear()


def test_on_real_pairs_the_cascade_keeps_minilms_verdicts() -> None:
    config = JudgeConfig()
    kw = {"threshold": config.coherence_threshold, "thresholds": config.coherence_thresholds, "cache": None}
    minilm, cascade = CoherenceFilter(cascade=False, **kw), CoherenceFilter(**kw)
    examples = [make(r["response"], prompt=r["prompt"], category=r["category"], specialist=r["specialist"])
                for r in REAL]
    old, new = filter_batch(examples, [minilm]), filter_batch(examples, [cascade])
    assert len(old.rejected) == 24
    assert cascade.decided["static"] >= 15  # even on a set weighted to drops, it spares MiniLM many
    differ = {e.id for e in old.kept} ^ {e.id for e in new.kept}
    # the calibration's known flips: tool-schema prompts whose answer routes the task (MiniLM 0.079,
    # 0.088 and the first again as a coder example; threshold 0.1), kept by the static table
    assert len(differ) <= 3
    pairs = {e.id: (e.prompt, e.response) for e in examples}
    for i in differ:
        [s] = minilm.score([pairs[i]])
        assert 0.07 < s < config.coherence_threshold
