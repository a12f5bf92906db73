"""The coherence filter's fast path: a bounded window, an embedding cache, the previous path's verdicts."""

from __future__ import annotations

import numpy as np
import pytest

from services.judge import JudgeConfig, build_filters
from services.judge.batch import filter_batch
from services.judge.filters.coherence import DEFAULT_WINDOW, CoherenceFilter, EmbeddingCache, Window
from tests.judge.conftest import make

PROMPT = "How do I sort a list of strings by length in Python?"
PAIRS = [
    (PROMPT, "Sort the list with sorted(items, key=len), which orders the strings by their length."),
    (PROMPT, "The recipe needs three eggs, flour and butter; bake it for forty minutes."),
    ("What does the judge do with duplicate examples?",
     "It drops near duplicates with MinHash over word shingles, keeping the best-ranked copy. " * 20),
    ("What does the judge do with duplicate examples?", "Paris is the capital of France. " * 40),
    ("Which port does the metrics endpoint listen on?", "Set OURO_METRICS_PORT; the default is 9100."),
    ("Explain the promoter's rollback.", "Bananas are rich in potassium and grow in the tropics."),
]


def test_the_judge_builds_the_windowed_filter(tokenizer_dir) -> None:
    coherence = next(f for f in build_filters(JudgeConfig(), "orchestrator", tokenizer_dir) if f.name == "coherence")
    assert coherence.window is not None
    assert coherence.window.tokens < JudgeConfig().coherence_max_tokens - 2  # reads less than the previous path


def test_a_long_text_is_cut_to_its_first_and_last_word_pieces() -> None:
    f = CoherenceFilter(window=Window(head=8, tail=4), cache=None)
    words = [f"w{i}" for i in range(400)]
    text = " ".join(words)
    full = f.encoder.words.tokenizer(text, add_special_tokens=False)["input_ids"]
    [ids] = f.encoder.words.window_ids([text], f.window)
    assert len(ids) == 8 + 4 + 2
    assert ids[0] == f.encoder.words.cls and ids[-1] == f.encoder.words.sep
    assert ids[1:9] == full[:8]
    assert ids[9:13] == full[-4:]
    short = "sort the strings by length"
    [ids] = f.encoder.words.window_ids([short], f.window)
    assert ids[1:-1] == f.encoder.words.tokenizer(short, add_special_tokens=False)["input_ids"]


def test_the_window_never_reads_more_than_max_seq_length() -> None:
    f = CoherenceFilter(window=Window(head=200, tail=50), max_seq_length=64, cache=None)
    assert f.window.tokens == 62
    [ids] = f.encoder.words.window_ids(["word " * 1000], f.window)
    assert len(ids) == 64


def test_a_text_past_its_window_scores_as_its_window() -> None:
    f = CoherenceFilter(window=Window(head=16, tail=0), cache=None)
    opening = "Sort the list with sorted(items, key=len), which orders the strings by length."
    [a] = f.score([(PROMPT, opening + " Bananas grow in the tropics." * 50)])
    [b] = f.score([(PROMPT, opening + " Paris is the capital of France." * 50)])
    assert a == pytest.approx(b, abs=1e-3)  # everything after the first 16 word pieces is unread


def test_the_second_call_is_served_from_the_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = EmbeddingCache()
    f = CoherenceFilter(cache=cache)
    first = f.score(PAIRS)
    distinct = len({t for pair in PAIRS for t in pair})
    assert (cache.hits, cache.misses, len(cache)) == (0, 2 * len(PAIRS), distinct)

    def no_model(*_a, **_k):
        raise AssertionError("the encoder ran on cached texts")

    monkeypatch.setattr(f.encoder, "embed", no_model)
    assert f.score(PAIRS) == first
    assert cache.hits == 2 * len(PAIRS)


def test_a_full_cache_drops_the_least_recently_used() -> None:
    cache = EmbeddingCache(max_entries=2)
    keys = [EmbeddingCache.key("fp32", DEFAULT_WINDOW, t) for t in ("a", "b", "c")]
    cache.put(keys[0], np.zeros(2))
    cache.put(keys[1], np.zeros(2))
    assert cache.get(keys[0]) is not None  # a is now the most recent
    cache.put(keys[2], np.zeros(2))
    assert cache.get(keys[1]) is None and cache.get(keys[0]) is not None and len(cache) == 2


def test_the_windowed_path_keeps_the_previous_paths_verdicts() -> None:
    previous = CoherenceFilter(window=None, int8=True, threshold=0.2)
    now = CoherenceFilter(threshold=0.2, cache=None)
    examples = [make(r, prompt=p) for p, r in PAIRS]
    old, new = filter_batch(examples, [previous]), filter_batch(examples, [now])
    assert [e.id for e in new.kept] == [e.id for e in old.kept]
    assert [r.id for r in new.rejected] == [r.id for r in old.rejected]
    assert len(new.kept) == 3 and len(new.rejected) == 3
    s_old, s_new = previous.score(PAIRS), now.score(PAIRS)
    assert np.abs(np.array(s_old) - np.array(s_new)).max() < 0.15
