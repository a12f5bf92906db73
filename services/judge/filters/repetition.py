"""Repetitive responses: the mission's bigram rule, plus Gopher's top n-gram character share.

bigram repeat ratio = (bigrams - unique bigrams) / bigrams over the response's words; a loop
that says the same thing again and again scores high and teaches the model to loop.
"""

from __future__ import annotations

from collections import Counter

from services.judge.verdict import KEEP, Verdict, drop
from shared.events import Example


def bigram_repeat_ratio(words: list[str]) -> float:
    bigrams = list(zip(words, words[1:], strict=False))
    if not bigrams:
        return 0.0
    return (len(bigrams) - len(set(bigrams))) / len(bigrams)


def top_ngram_char_share(words: list[str], n: int) -> float:
    """Share of all word characters covered by the single most frequent n-gram (Gopher, Rae et al. 2021)."""
    ngrams = [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]
    if not ngrams:
        return 0.0
    gram, count = Counter(ngrams).most_common(1)[0]
    if count < 2:
        return 0.0  # a gram seen once is not repetition (matters for short answers)
    total = sum(len(w) for w in words)
    return sum(len(w) for w in gram) * count / total if total else 0.0


class RepetitionFilter:
    name = "repetition"

    def __init__(self, *, max_bigram_repeat: float = 0.4, top_ngram_share: dict[int, float] | None = None) -> None:
        self.max_bigram_repeat = max_bigram_repeat
        self.top_ngram_share = dict(sorted((top_ngram_share or {}).items()))

    def filter(self, example: Example) -> Verdict:
        words = example.response.split()
        if bigram_repeat_ratio(words) >= self.max_bigram_repeat:
            return drop("repetition:bigram")
        for n, limit in self.top_ngram_share.items():
            if top_ngram_char_share(words, n) > limit:
                return drop(f"repetition:top_{n}gram")
        return KEEP
