"""A static embedding distilled from MiniLM: the coherence cascade's near-free first scorer.

Every word piece of MiniLM's vocabulary is run through MiniLM once on its own (`[CLS] piece [SEP]`,
mean-pooled like sentence-transformers), then (model2vec's recipe: no training, nothing downloaded)
the rows are centred, their top `PCA_DROP` principal components removed (the directions every
piece shares, which pull every cosine up), and each row weighted by the log of its Zipf rank
(BERT's vocabulary is in frequency order from id 1996, "the", on: rare pieces carry the topic). A
text's static embedding is the sum of its word pieces' rows at unit length. Its cosines follow
MiniLM's almost on the identity line (least squares MiniLM ~ 0.985 static - 0.012 over 4,400
pairs, r = 0.83-0.87), so the cascade compares them with the same thresholds. The rows are
computed once per machine (30,522 three-piece passes in fp32: ~100 s on a loaded 2-core machine)
under a file lock into the model cache (`shared.models.model_cache_dir()`), keyed by a hash of the
weights and of this recipe; every later process reads the 45 MB file.

    table = load_static_table()                   # builds or reads the .npy
    sims = table.cosines(prompt_ids, response_ids)  # word-piece id lists, as the window cuts them
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np

from services.judge.filters.coherence_onnx import minilm_dir, weights_key

log = logging.getLogger("ouro.judge.coherence")

PCA_DROP = 5
# 1996 is "the": below it are [PAD], [unused*], [UNK]/[CLS]/[SEP]/[MASK] and single characters
ZIPF_FIRST_ID = 1990
# bump when what the file holds changes: the cached rows are rebuilt (the distillation runs on load)
STATIC_RECIPE = "minilm-static-rows-v1:cls-piece-sep:mean-pool:fp32"


def static_table_path(cache_dir: Path | None = None) -> Path:
    from shared.models import model_cache_dir

    root = cache_dir or model_cache_dir()
    recipe = hashlib.sha256(STATIC_RECIPE.encode()).hexdigest()[:12]
    return root / "minilm-static" / f"{weights_key(minilm_dir())}-{recipe}.npy"


def minilm_rows(ids: Sequence[int] | None = None, batch: int = 2048) -> np.ndarray:
    """(len(ids), hidden) float32: each word piece alone through MiniLM, mean-pooled over its three positions.

    `ids` None: the whole vocabulary (what the cache holds)."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    path = str(minilm_dir())
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path, dtype=torch.float32).eval()
    every = torch.arange(tok.vocab_size) if ids is None else torch.as_tensor(list(ids), dtype=torch.long)
    out = np.zeros((len(every), model.config.hidden_size), dtype=np.float32)
    with torch.inference_mode():
        for start in range(0, len(every), batch):
            piece = every[start : start + batch]
            cls, sep = torch.full_like(piece, tok.cls_token_id), torch.full_like(piece, tok.sep_token_id)
            seq = torch.stack([cls, piece, sep], 1)
            hidden = model(input_ids=seq, attention_mask=torch.ones_like(seq)).last_hidden_state
            out[start : start + len(piece)] = hidden.mean(1).numpy()
    return out


def distil(rows: np.ndarray) -> np.ndarray:
    """MiniLM's per-piece rows -> the static table: centred, top components removed, Zipf-weighted."""
    centred = rows - rows.mean(0, keepdims=True)
    _, vectors = np.linalg.eigh(centred.T @ centred)  # (hidden, hidden): far cheaper than an SVD of the rows
    top = vectors[:, ::-1][:, :PCA_DROP].T
    flat = centred - (centred @ top.T) @ top
    rank = np.maximum(np.arange(len(rows)) - ZIPF_FIRST_ID, 1)
    return (flat * np.log1p(rank)[:, None]).astype(np.float32)


class StaticTable:
    """Static text embeddings: the sum of a text's word-piece rows, at unit length."""

    def __init__(self, rows: np.ndarray) -> None:
        import torch

        self.rows = rows
        self._weight = torch.from_numpy(rows)

    def embed(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """One unit-length row per list of word-piece ids, without [CLS]/[SEP] (none: a zero row)."""
        import torch

        # embedding_bag sums the rows in place: no (pieces, hidden) gather is ever materialised
        lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
        flat = torch.from_numpy(np.fromiter((i for x in ids for i in x), dtype=np.int64, count=int(lengths.sum())))
        offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64))
        with torch.inference_mode():
            sums = torch.nn.functional.embedding_bag(flat, self._weight, offsets, mode="sum")
            return torch.nn.functional.normalize(sums, dim=-1).numpy()

    def cosines(self, first: Sequence[Sequence[int]], second: Sequence[Sequence[int]]) -> np.ndarray:
        a, b = self.embed(first), self.embed(second)
        return np.einsum("nd,nd->n", a, b)


@lru_cache(maxsize=2)
def load_static_table(cache_dir: Path | None = None) -> StaticTable:
    """The table from MiniLM's per-piece rows in the model cache, computed there first (under a file
    lock) if missing. The file holds the raw rows, so what the table is made of can be checked
    against MiniLM; distilling them on load takes a second or two."""
    path = static_table_path(cache_dir)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent judges build it once
            if not path.exists():
                log.info("coherence: building the static MiniLM table at %s (once per machine)", path)
                rows = minilm_rows()
                tmp = path.with_suffix(f".{os.getpid()}.tmp.npy")
                np.save(tmp, rows)
                os.replace(tmp, path)
    return StaticTable(distil(np.load(path)))
