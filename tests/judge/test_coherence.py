from __future__ import annotations

from services.judge.batch import filter_batch
from services.judge.filters.coherence import CoherenceFilter
from tests.judge.conftest import make


def test_coherence_scores_and_drops_off_topic_answers() -> None:
    f = CoherenceFilter(threshold=0.2, cascade=False)  # MiniLM on every pair (test_coherence_cascade.py)
    on_topic = make(
        "Sort the list with sorted(items, key=len), which orders the strings by their length.",
        prompt="How do I sort a list of strings by length in Python?",
    )
    off_topic = make(
        "The recipe needs three eggs, flour and butter; bake it for forty minutes.",
        prompt="How do I sort a list of strings by length in Python?",
    )
    out = filter_batch([on_topic, off_topic], [f])
    assert [e.id for e in out.kept] == [on_topic.id]
    assert out.kept[0].scores["coherence"] > 0.2
    assert [r.reason for r in out.rejected] == ["coherence"]
