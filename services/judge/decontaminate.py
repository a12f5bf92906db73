"""Remove examples that overlap a benchmark or an evaluation-suite item.

An n-gram index (stable 64-bit hashes of normalised word 13-grams; 8-grams for items too short
for 13, a single whole-item gram for items of 5-7 words) over HumanEval, MBPP and GSM8K test data
(`benchmarks/`, see its README for licences), every prompt, reference answer and scorer payload
of the evaluation suites (read through shared/suites.py), and optional user files. An example is
contaminated when more than `overlap` of the n-grams of either it or a benchmark item are shared
with the other.

The index is built once per source content and saved under the cache dir keyed by that
content's hash, and kept in memory for the rest of the process.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from services.judge.text import ngram_hashes, word_hashes, words
from shared.events import Example
from shared.suites import Suite, load_suite

BENCHMARKS_DIR = Path(__file__).resolve().parent / "benchmarks"
INDEX_VERSION = "2"
MIN_ITEM_WORDS = 5  # shorter items ("What is 2+2?") would match half the dataset by accident


@dataclass
class NgramIndex:
    """Per n-gram size, a sorted array of gram hashes and the item each belongs to (numpy, fast to load)."""

    key: str
    names: list[str] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)  # distinct n-grams per item
    grams: dict[int, np.ndarray] = field(default_factory=dict)  # n -> sorted uint64 gram hashes
    items: dict[int, np.ndarray] = field(default_factory=dict)  # n -> item index of each gram
    _pending: dict[int, list[tuple[np.ndarray, int]]] = field(default_factory=dict, repr=False)

    def add(self, name: str, text: str, n: int, fallback: int) -> None:
        hashes = word_hashes(words(text))
        if len(hashes) < MIN_ITEM_WORDS:
            return
        size = n if len(hashes) >= n else fallback if len(hashes) >= fallback else len(hashes)
        grams = np.unique(ngram_hashes(hashes, size))
        self._pending.setdefault(size, []).append((grams, len(self.names)))
        self.names.append(name)
        self.sizes.append(len(grams))

    def freeze(self) -> NgramIndex:
        for size, parts in self._pending.items():
            grams = np.concatenate([g for g, _ in parts])
            items = np.concatenate([np.full(len(g), i, dtype=np.int32) for g, i in parts])
            order = np.argsort(grams, kind="stable")
            self.grams[size], self.items[size] = grams[order], items[order]
        self._pending = {}
        return self

    def best_overlap(self, text: str) -> tuple[float, str | None]:
        """The largest share of shared n-grams (of `text`'s or of the item's, whichever is larger)
        over every indexed item, and that item; (0.0, None) when nothing is shared."""
        hashes = word_hashes(words(text))
        best: tuple[float, str | None] = (0.0, None)
        for size in sorted(self.grams):
            query = np.unique(ngram_hashes(hashes, size))
            if not len(query):
                continue
            table = self.grams[size]
            lo = np.searchsorted(table, query, "left")
            hi = np.searchsorted(table, query, "right")
            hit = hi > lo
            if not hit.any():
                continue
            owners = np.concatenate([self.items[size][a:b] for a, b in zip(lo[hit], hi[hit], strict=True)])
            ids, counts = np.unique(owners, return_counts=True)
            for i, count in zip(ids.tolist(), counts.tolist(), strict=True):
                share = max(count / self.sizes[i], count / len(query))
                if share > best[0]:
                    best = (share, self.names[i])
        return best

    def match(self, text: str, overlap: float) -> str | None:
        """The benchmark item `text` overlaps most, if more than `overlap` of either side is shared."""
        share, name = self.best_overlap(text)
        return name if share > overlap else None

    def save(self, path: Path) -> None:
        arrays = {f"grams_{n}": g for n, g in self.grams.items()} | {f"items_{n}": a for n, a in self.items.items()}
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            np.savez(fh, key=np.array(self.key), names=np.array(self.names, dtype=str),
                     sizes=np.array(self.sizes, dtype=np.int64), **arrays)
        tmp.replace(path)  # atomic: parallel workers never read half a file

    @classmethod
    def load(cls, path: Path) -> NgramIndex:
        with np.load(path) as data:
            index = cls(str(data["key"]), data["names"].tolist(), data["sizes"].tolist())
            for name in data.files:
                if name.startswith("grams_"):
                    n = int(name.removeprefix("grams_"))
                    index.grams[n], index.items[n] = data[name], data[f"items_{n}"]
        return index


def _jsonl(path: Path) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a half-written user file must not stop the judge
                if isinstance(row, dict):
                    yield row


def _builtin_items() -> Iterator[tuple[str, str]]:
    for i, row in enumerate(_jsonl(BENCHMARKS_DIR / "gsm8k_test.jsonl")):
        yield f"gsm8k:{i}", row["question"]
        yield f"gsm8k:{i}", row["answer"]
    for row in _jsonl(BENCHMARKS_DIR / "mbpp.jsonl"):
        yield f"mbpp:{row['task_id']}", row["text"]
        yield f"mbpp:{row['task_id']}", row["code"]
    for row in _jsonl(BENCHMARKS_DIR / "humaneval.jsonl.gz"):
        yield f"humaneval:{row['task_id']}", row["prompt"]
        yield f"humaneval:{row['task_id']}", row["prompt"] + row["canonical_solution"]


def _chat_items(path: Path, prefix: str) -> Iterator[tuple[str, str]]:
    """User files of chat rows (id, messages, optional reference); evaluation suites are read
    through their typed contract instead (`_suite_items`)."""
    for n, row in enumerate(_jsonl(path)):
        name = f"{prefix}/{row.get('id', n)}"
        messages = row.get("messages") if isinstance(row.get("messages"), list) else []
        contents = [m.get("content") for m in messages if isinstance(m, dict)]
        prompt = "\n".join(c for c in contents if isinstance(c, str))
        if prompt:
            yield name, prompt
        for text in (row.get("reference"), row.get("text"), row.get("question"), row.get("prompt")):
            if isinstance(text, str) and text:
                yield name, text


def _suite_items(suite: Suite) -> Iterator[tuple[str, str]]:
    """Every prompt, reference answer and scorer payload of the suite (shared/suites.py)."""
    for item in suite.items:
        for text in item.texts():
            yield f"suite:{suite.name}/{item.id}", text


def source_files(extra: Sequence[Path], builtin: bool) -> list[tuple[str, Path]]:
    files: list[tuple[str, Path]] = []
    if builtin:
        files += [("builtin", p) for p in sorted(BENCHMARKS_DIR.glob("*.jsonl*"))]
    files += [(f"file:{p.stem}", p) for p in extra]
    return files


def index_key(files: Sequence[tuple[str, Path]], suites: Sequence[Suite], n: int, fallback: int) -> str:
    h = hashlib.sha256(f"v{INDEX_VERSION}:{n}:{fallback}:{MIN_ITEM_WORDS}".encode())
    for prefix, path in files:
        h.update(prefix.encode() + b"\0" + hashlib.sha256(path.read_bytes()).digest())
    for suite in suites:
        h.update(f"suite:{suite.name}:{suite.version}".encode())
    return h.hexdigest()


def default_cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ouroboros" / "judge"


_LOADED: dict[str, NgramIndex] = {}


def load_index(
    *, suites: Sequence[Path | str] = (), extra: Sequence[Path] = (), builtin: bool = True, n: int = 13,
    fallback: int = 8, cache_dir: Path | None = None,
) -> NgramIndex:
    """The index over the current sources: from memory, else the .npz cache, else built (and cached).

    `suites` are evaluation suites (directories or shipped names), loaded through the shared suite
    contract: a suite that is missing or invalid raises SuiteError rather than being skipped, so
    the judge can never silently stop decontaminating against what the loop is graded on.
    """
    loaded = [load_suite(s) for s in suites]
    files = source_files(extra, builtin)
    key = index_key(files, loaded, n, fallback)
    if key in _LOADED:
        return _LOADED[key]
    cache = (cache_dir or default_cache_dir()) / f"decontam-{key[:32]}.npz"
    index: NgramIndex | None = None
    if cache.exists():
        try:
            index = NgramIndex.load(cache)
        except (OSError, ValueError, KeyError, EOFError):
            index = None  # a damaged cache file: rebuild it
    if index is None or index.key != key:
        index = NgramIndex(key)
        if builtin:
            for name, text in _builtin_items():
                index.add(name, text, n, fallback)
        for suite in loaded:
            for name, text in _suite_items(suite):
                index.add(name, text, n, fallback)
        for prefix, path in files:
            if prefix != "builtin":
                for name, text in _chat_items(path, prefix):
                    index.add(name, text, n, fallback)
        index.freeze()
        cache.parent.mkdir(parents=True, exist_ok=True)
        index.save(cache)
    _LOADED[key] = index
    return index


def decontaminate(
    examples: Sequence[Example], index: NgramIndex, *, overlap: float = 0.5
) -> tuple[list[Example], list[tuple[Example, str]]]:
    """Split into clean examples and (contaminated example, benchmark item it matched)."""
    clean: list[Example] = []
    dirty: list[tuple[Example, str]] = []
    for e in examples:
        hit = index.match("\n".join(m.content for m in e.messages), overlap)
        if hit is None:
            clean.append(e)
        else:
            dirty.append((e, hit))
    return clean, dirty

