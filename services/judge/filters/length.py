"""Response length in tokens of the base model's tokenizer (what the trainer will actually see)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

from services.judge.verdict import KEEP, Verdict, drop
from shared.events import Example


@lru_cache(maxsize=4)
def load_tokenizer(tokenizer_dir: str) -> Any:
    """Loaded once per process: tokenizers are slow to build and filters run per batch."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tokenizer_dir)


class LengthFilter:
    name = "length"

    def __init__(self, tokenizer_dir: Path | str, *, min_tokens: int, max_tokens: int) -> None:
        self.tokenizer = load_tokenizer(str(tokenizer_dir))
        self.min_tokens = min_tokens
        self.max_tokens = max_tokens
        self._counts: dict[str, int] = {}

    def count(self, texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        # a batched call on a fast tokenizer is one Rust call instead of one per example
        ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
        return [len(x) for x in ids]

    def prepare(self, examples: Sequence[Example]) -> None:
        self._counts = dict(zip((e.id for e in examples), self.count([e.response for e in examples]), strict=True))

    def filter(self, example: Example) -> Verdict:
        n = self._counts.get(example.id)
        if n is None:
            n = self.count([example.response])[0]
        if n < self.min_tokens:
            return drop("length:too_short")
        if n > self.max_tokens:
            return drop("length:too_long")
        return KEEP
