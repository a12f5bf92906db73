"""Text normalisation and word n-gram hashing shared by dedup and decontamination.

Hashes must be stable across processes (the dedup history and decontamination index are
stored on disk), so Python's salted `hash()` is never used.
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from shared.events import Example

_WORD = re.compile(r"[a-z0-9]+")
_MASK64 = (1 << 64) - 1
# An odd 64-bit multiplier for the polynomial rolling combination of word hashes.
_MULT = np.uint64(0x9E3779B97F4A7C15)


def normalise(text: str) -> str:
    return " ".join(_WORD.findall(text.lower()))


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def example_text(example: Example) -> str:
    return "\n".join(f"{m.role}: {m.content}" for m in example.messages)


def exact_hash(example: Example) -> str:
    """sha256 of the normalised conversation: whitespace, case and punctuation do not make it new."""
    return hashlib.sha256(normalise(example_text(example)).encode("utf-8")).hexdigest()


def word_hashes(tokens: list[str]) -> np.ndarray:
    return np.array(
        [int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little") for w in tokens],
        dtype=np.uint64,
    )


def ngram_hashes(hashes: np.ndarray, n: int) -> np.ndarray:
    """Stable 64-bit hashes of every run of `n` consecutive words (empty when fewer words)."""
    count = len(hashes) - n + 1
    if count <= 0:
        return np.empty(0, dtype=np.uint64)
    out = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(n):
            # wrap-around multiply-add: order matters, so "a b" and "b a" differ
            out = out * _MULT + hashes[k : k + count]
    return out
