"""Exact and near-duplicate removal, within a dataset and against the specialist's history.

Exact: sha256 of the normalised conversation. Near: MinHash over word 5-shingles (128
permutations, numpy) with LSH banding (16 bands x 8 rows, candidate threshold ~0.71) and the
estimated Jaccard checked against `threshold` (0.8) for each candidate pair.

Short texts: 5-shingles cannot see a one-word insertion in a text of a dozen words (it breaks up
to five of its eight shingles), so a text of at most `SHORT_WORDS` words is also indexed by its
one-word-deletion neighbourhood: B is a near duplicate of A when deleting one word of B gives A
exactly, or deleting one word of A gives B. A substitution (`f` for `g`) is not a deletion, so
distinct short prompts that differ in one name stay; neither is dropping a negation or a number,
which changes what the text says.

Near-duplicate signatures leave system messages out: a system prompt shared by many examples (the
tool schemas of every tool-use prompt) would otherwise make distinct requests look alike. A tool
call's name and arguments count, so two conversations differing only in what they called differ.

`DedupHistory` keeps the hashes and signatures of every example kept by earlier datasets, so a
cycle never retrains on yesterday's examples as if they were new.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from services.judge.text import exact_hash, ngram_hashes, word_hashes, words
from shared.events import Example

_PRIME = np.uint64((1 << 61) - 1)
_MAX32 = np.uint64(0xFFFFFFFF)
BANDS = 16
SHORT_WORDS = 100  # above this, 5-shingle MinHash already catches a one-word insertion (J > 0.9)
# Deleting one of these changes what the text says: "not"/"never", a number.
_MEANINGFUL = frozenset({"not", "no", "never", "nor", "t", "cannot", "without"})


def near_text(example: Example) -> str:
    """What near-duplicate detection compares: every message but the system ones, tool calls included."""
    parts = []
    for m in example.messages:
        if m.role == "system":
            continue
        calls = " ".join(f"{c.function.name} {c.function.arguments}" for c in m.tool_calls or ())
        parts.append(f"{m.role}: {m.content} {calls}".rstrip())
    return "\n".join(parts)


def _seq_hash(tokens: Sequence[str]) -> str:
    return hashlib.blake2b(" ".join(tokens).encode(), digest_size=12).hexdigest()


def short_keys(text: str) -> tuple[str, list[str]] | None:
    """(hash of the words, hashes of each one-word deletion) for a short text, else None."""
    tokens = words(text)
    if not tokens or len(tokens) > SHORT_WORDS:
        return None
    deletions = [_seq_hash(tokens[:i] + tokens[i + 1:]) for i, t in enumerate(tokens)
                 if t not in _MEANINGFUL and not any(c.isdigit() for c in t)]
    return _seq_hash(tokens), deletions


class ShortIndex:
    """One-word insertion/deletion matches among short texts, by exact hashes (no false positives
    from estimation: the texts differ by exactly one deletable word)."""

    def __init__(self) -> None:
        self.full: dict[str, str] = {}  # hash of a text's words -> its key
        self.deleted: dict[str, str] = {}  # hash of a text with one word deleted -> its key

    def match(self, keys: tuple[str, list[str]] | None) -> str | None:
        if keys is None:
            return None
        full, deletions = keys
        if full in self.deleted:  # this text is a stored one with a word deleted
            return self.deleted[full]
        for d in deletions:  # this text is a stored one with a word inserted
            if d in self.full:
                return self.full[d]
        return None

    def add(self, key: str, keys: tuple[str, list[str]] | None) -> None:
        if keys is None:
            return
        full, deletions = keys
        self.full.setdefault(full, key)
        for d in deletions:
            self.deleted.setdefault(d, key)


class MinHasher:
    def __init__(self, num_perm: int = 128, shingle_size: int = 5, seed: int = 1) -> None:
        if num_perm % BANDS:
            raise ValueError(f"`num_perm` must be a multiple of {BANDS}, got {num_perm}")
        rng = np.random.RandomState(seed)  # fixed seed: signatures are stored across runs
        self.a = rng.randint(1, 1 << 32, size=num_perm, dtype=np.uint64)
        self.b = rng.randint(0, 1 << 32, size=num_perm, dtype=np.uint64)
        self.num_perm = num_perm
        self.shingle_size = shingle_size

    def signature(self, text: str) -> np.ndarray:
        hashes = word_hashes(words(text))
        n = min(self.shingle_size, max(len(hashes), 1))  # a short text is one shingle of all its words
        shingles = np.unique(ngram_hashes(hashes, n) & _MAX32) if len(hashes) else np.zeros(1, np.uint64)
        with np.errstate(over="ignore"):
            perm = (shingles[:, None] * self.a[None, :] + self.b[None, :]) % _PRIME & _MAX32
        return perm.min(axis=0).astype(np.uint32)


def band_keys(sig: np.ndarray) -> list[bytes]:
    rows = len(sig) // BANDS
    return [bytes([i]) + sig[i * rows : (i + 1) * rows].tobytes() for i in range(BANDS)]


class LSHIndex:
    """Signatures in LSH buckets; `match` returns the key of a stored near-duplicate, if any."""

    def __init__(self, threshold: float = 0.8) -> None:
        self.threshold = threshold
        self.keys: list[str] = []
        self.sigs: list[np.ndarray] = []
        self.buckets: dict[bytes, list[int]] = {}

    def match(self, sig: np.ndarray) -> str | None:
        seen: set[int] = set()
        for band in band_keys(sig):
            for i in self.buckets.get(band, ()):
                if i in seen:
                    continue
                seen.add(i)
                if float(np.mean(self.sigs[i] == sig)) >= self.threshold:
                    return self.keys[i]
        return None

    def add(self, key: str, sig: np.ndarray) -> None:
        i = len(self.keys)
        self.keys.append(key)
        self.sigs.append(sig)
        for band in band_keys(sig):
            self.buckets.setdefault(band, []).append(i)


class DedupHistory:
    """Hashes and MinHash signatures of the examples kept by a specialist's earlier datasets."""

    def __init__(self, num_perm: int = 128, shingle_size: int = 5, threshold: float = 0.8) -> None:
        self.hasher = MinHasher(num_perm, shingle_size)
        self.hashes: set[str] = set()
        self.index = LSHIndex(threshold)
        self.short = ShortIndex()

    def __len__(self) -> int:
        return len(self.index.keys)

    def update(self, examples: Iterable[Example]) -> None:
        for e in examples:
            h = exact_hash(e)
            if h in self.hashes:
                continue
            self.hashes.add(h)
            text = near_text(e)
            self.index.add(e.id, self.hasher.signature(text))
            self.short.add(e.id, short_keys(text))

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as fh:  # a file handle, so numpy does not append ".npz" to the name
            np.savez_compressed(
                fh,
                ids=np.array(self.index.keys, dtype=str),
                hashes=np.array(sorted(self.hashes), dtype=str),
                sigs=np.stack(self.index.sigs) if self.index.sigs else np.zeros((0, self.hasher.num_perm), np.uint32),
                params=np.array([self.hasher.num_perm, self.hasher.shingle_size]),
                threshold=np.array([self.index.threshold]),
                short_full=np.array(list(self.short.full.items()), dtype=str).reshape(-1, 2),
                short_deleted=np.array(list(self.short.deleted.items()), dtype=str).reshape(-1, 2),
            )

    @classmethod
    def load(cls, path: Path) -> DedupHistory:
        """Load a saved history; a path that does not exist yet is an empty history (first cycle)."""
        if not path.exists():
            return cls()
        with np.load(path) as data:
            num_perm, shingle = (int(x) for x in data["params"])
            history = cls(num_perm, shingle, float(data["threshold"][0]))
            history.hashes = set(data["hashes"].tolist())
            for key, sig in zip(data["ids"].tolist(), data["sigs"], strict=True):
                history.index.add(key, sig.astype(np.uint32))
            if "short_full" in data:  # histories saved before the short-text index have none
                history.short.full = dict(data["short_full"].tolist())
                history.short.deleted = dict(data["short_deleted"].tolist())
        return history


def deduplicate(
    examples: Sequence[Example], history: DedupHistory | None, *, num_perm: int = 128,
    shingle_size: int = 5, threshold: float = 0.8,
) -> tuple[list[Example], list[tuple[Example, str, str]]]:
    """Keep the first of each (near-)duplicate group in the given order (callers sort best first).

    Returns kept examples and (example, reason, id of the one it duplicates) for the rest.
    """
    if history is not None and (history.hasher.num_perm, history.hasher.shingle_size) != (num_perm, shingle_size):
        raise ValueError("`history` was built with different MinHash parameters than the judge config")
    hasher = history.hasher if history is not None else MinHasher(num_perm, shingle_size)
    local = LSHIndex(threshold)
    local_short = ShortIndex()
    seen: dict[str, str] = {}
    kept: list[Example] = []
    dropped: list[tuple[Example, str, str]] = []
    for e in examples:
        h = exact_hash(e)
        if history is not None and h in history.hashes:
            dropped.append((e, "duplicate:history", h[:16]))
            continue
        if h in seen:
            dropped.append((e, "duplicate:exact", seen[h]))
            continue
        text = near_text(e)
        sig = hasher.signature(text)
        short = short_keys(text)
        near = (history.index.match(sig) or history.short.match(short)) if history is not None else None
        if near is not None:
            dropped.append((e, "duplicate:history", near))
            continue
        near = local.match(sig) or local_short.match(short)
        if near is not None:
            dropped.append((e, "duplicate:near", near))
            continue
        seen[h] = e.id
        local.add(e.id, sig)
        local_short.add(e.id, short)
        kept.append(e)
    return kept, dropped
