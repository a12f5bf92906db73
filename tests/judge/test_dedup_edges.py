"""Near-duplicate detection at its edges: the similarity threshold is inclusive, very short texts
still get a signature, and the history is consulted before the dataset itself."""

from __future__ import annotations

import numpy as np

from services.judge.dedup import DedupHistory, LSHIndex, MinHasher, deduplicate
from tests.judge.conftest import ANSWER, make


def test_the_threshold_is_inclusive() -> None:
    a = np.arange(128, dtype=np.uint32)
    b = a.copy()
    b[:26] += 1000  # 102 of 128 rows agree; bands 4-15 are identical, so b is a candidate of a
    at = LSHIndex(threshold=102 / 128)
    at.add("a", a)
    assert at.match(b) == "a"
    above = LSHIndex(threshold=103 / 128)
    above.add("a", a)
    assert above.match(b) is None


def test_short_texts_get_signatures_that_tell_them_apart() -> None:
    h = MinHasher()
    one, other = h.signature("hello"), h.signature("goodbye")
    assert one.shape == (128,) and not np.array_equal(one, other)
    assert np.array_equal(one, h.signature("Hello!"))  # normalised the same way
    assert h.signature("").shape == (128,)
    two = h.signature("hello world")
    assert not np.array_equal(two, one) and np.array_equal(two, h.signature("Hello, World"))


def test_history_wins_over_the_dataset_and_names_what_it_matched() -> None:
    long = ANSWER + " It then publishes dataset.ready with the content hash of the kept examples and the report."
    old = make(long)
    history = DedupHistory()
    history.update([old])
    history.update([old])  # the same example twice is one entry
    assert len(history) == 1
    near = make(long.replace("report.", "report too."))
    kept, dropped = deduplicate([near, make("A wholly different answer about LoRA ranks and learning rates.")],
                                history)
    assert [(e.id, reason, of) for e, reason, of in dropped] == [(near.id, "duplicate:history", old.id)]
    assert len(kept) == 1


def test_signatures_are_stable_across_releases() -> None:
    """Histories saved by earlier cycles are compared with today's signatures: the MinHash
    permutations (seeded) and the hashing must not drift, or yesterday's examples look new."""
    sig = MinHasher().signature("the quick brown fox jumps over the lazy dog")
    assert sig[:6].tolist() == [1134707647, 660101682, 17603111, 350468279, 338636852, 1214711657]
    assert int(sig.sum()) == 90206037747
