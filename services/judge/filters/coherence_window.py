"""Which word pieces of a text the coherence embedding reads, and batches of like lengths.

Shared by the torch encoder (`coherence.py`) and the ONNX Runtime one (`coherence_onnx.py`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    """Which word pieces of a text the embedding reads: the first `head` and the last `tail`."""

    head: int = 48
    tail: int = 16

    @property
    def tokens(self) -> int:
        return self.head + self.tail


# a word piece is rarely longer than this many characters: only this much of a text is tokenized
_CHARS_PER_TOKEN = 24


class WindowTokenizer:
    """MiniLM's word pieces: a bounded window of each text, and batches of like lengths."""

    def __init__(self, path: str, *, token_budget: int = 16_384, max_batch: int = 256) -> None:
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.tokenizer.model_max_length = 1 << 30  # we cut the window ourselves; no length warnings
        self.token_budget = token_budget  # padded word pieces per forward pass
        self.max_batch = max_batch
        self.cls = self.tokenizer.cls_token_id
        self.sep = self.tokenizer.sep_token_id
        self.pad = self.tokenizer.pad_token_id or 0

    def window_ids(self, texts: Sequence[str], window: Window) -> list[list[int]]:
        """[CLS] + the first `head` and last `tail` word pieces + [SEP], per text."""
        head_chars, tail_chars = window.head * _CHARS_PER_TOKEN, window.tail * _CHARS_PER_TOKEN
        cut = [t if len(t) <= head_chars + tail_chars else t[:head_chars] for t in texts]
        ids = self.tokenizer(cut, add_special_tokens=False)["input_ids"]
        tails: dict[int, list[int]] = {}
        if window.tail:
            long = [i for i, t in enumerate(texts) if len(t) > head_chars + tail_chars]
            if long:
                tail_ids = self.tokenizer([texts[i][-tail_chars:] for i in long], add_special_tokens=False)["input_ids"]
                tails = dict(zip(long, tail_ids, strict=True))
        out = []
        for i, x in enumerate(ids):
            if i in tails:
                x = x[: window.head] + tails[i][-window.tail :]
            elif len(x) > window.tokens:
                x = x[: window.head] + (x[-window.tail :] if window.tail else [])
            out.append([self.cls, *x, self.sep])
        return out

    def batches(self, ids: list[list[int]]) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(row indices, padded int64 ids, attention mask), shortest texts first: little padding."""
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        start = 0
        while start < len(order):
            end = start + 1
            while end < len(order) and end - start < self.max_batch and \
                    (end - start + 1) * len(ids[order[end]]) <= self.token_budget:
                end += 1
            idx = order[start:end]
            width = len(ids[idx[-1]])
            batch = np.full((len(idx), width), self.pad, dtype=np.int64)
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                batch[row, : len(ids[i])] = ids[i]
                mask[row, : len(ids[i])] = 1
            yield idx, batch, mask
            start = end


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """sentence-transformers' pooling for MiniLM: the mean over real word pieces, unit length."""
    weights = mask[..., None].astype(np.float32)
    pooled = (hidden * weights).sum(1) / np.maximum(weights.sum(1), 1.0)
    return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
