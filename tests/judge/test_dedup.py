from __future__ import annotations

from pathlib import Path

from services.judge.dedup import DedupHistory, deduplicate
from tests.judge.conftest import ANSWER, make

LONG = ANSWER + " It then publishes dataset.ready with the content hash of the kept examples and the report."


def test_exact_and_near_duplicates() -> None:
    a = make(LONG)
    same = make(LONG.upper() + "  ", generator="other")  # case and spacing do not make it new
    near = make(LONG.replace("report.", "report too."))
    other = make("A completely different answer about LoRA ranks, alpha and the learning rate schedule used.")
    kept, dropped = deduplicate([a, same, near, other], None)
    assert kept == [a, other]
    assert [(r, of) for _, r, of in dropped] == [("duplicate:exact", a.id), ("duplicate:near", a.id)]


def test_history_round_trip(tmp_path: Path) -> None:
    history = DedupHistory.load(tmp_path / "missing.npz")
    assert len(history) == 0
    history.update([make(LONG)])
    history.save(tmp_path / "h.npz")
    loaded = DedupHistory.load(tmp_path / "h.npz")
    fresh = make("An answer about the evaluator's suites and how the promoter compares champion scores.")
    kept, dropped = deduplicate([make(LONG), make(LONG + " Indeed."), fresh], loaded)
    assert kept == [fresh]
    assert [r for _, r, _ in dropped] == ["duplicate:history", "duplicate:history"]
