"""The coherence filter's ONNX Runtime encoder: same embeddings and verdicts as torch, and a fallback."""

from __future__ import annotations

import logging
import sys

import numpy as np
import pytest

from services.judge.batch import filter_batch
from services.judge.filters import coherence, coherence_onnx
from services.judge.filters.coherence import CoherenceFilter, Window, load_window_encoder
from services.judge.filters.coherence_onnx import exported_model, load_onnx_encoder
from tests.judge.conftest import make
from tests.judge.test_coherence_window import PAIRS

pytest.importorskip("onnxruntime")

SENTENCES = [t for pair in PAIRS for t in pair] + [
    "How do I sort a list of strings by length in Python?",
    "The trainer saves a LoRA adapter after every epoch and the evaluator scores it against the champion.",
    "Paris is the capital of France.",
    "Set OURO_METRICS_PORT; the default is 9100.",
]
WINDOW = Window(48, 16)


def cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (a * b).sum(1)  # both unit length


def test_onnx_embeddings_match_the_torch_encoder() -> None:
    reference = load_window_encoder("fp32").embed(SENTENCES, WINDOW)
    fp32 = load_onnx_encoder("onnx-fp32").embed(SENTENCES, WINDOW)
    int8 = load_onnx_encoder("onnx-int8").embed(SENTENCES, WINDOW)
    assert np.allclose(np.linalg.norm(fp32, axis=1), 1.0, atol=1e-4)
    assert cosines(fp32, reference).min() >= 0.999  # the same network, exported
    assert cosines(int8, reference).mean() >= 0.99  # int8 weights (per channel) move it a little
    assert cosines(int8, reference).min() >= 0.98


def test_padding_in_a_batch_does_not_change_an_embedding() -> None:
    enc = load_onnx_encoder("onnx-fp32")
    alone = enc.embed(["Paris is the capital of France."], WINDOW)
    batched = enc.embed(["Paris is the capital of France.", PAIRS[2][1]], WINDOW)  # padded to the long one
    assert cosines(alone, batched[:1])[0] >= 0.9999


def test_the_onnx_path_keeps_the_torch_paths_verdicts() -> None:
    examples = [make(r, prompt=p) for p, r in PAIRS]
    torch_f = CoherenceFilter(threshold=0.2, window=WINDOW, precision="fp32", cache=None)
    onnx_f = CoherenceFilter(threshold=0.2, window=WINDOW, precision="onnx-int8", cache=None)
    assert onnx_f.precision == "onnx-int8"
    a, b = filter_batch(examples, [torch_f]), filter_batch(examples, [onnx_f])
    assert [e.id for e in b.kept] == [e.id for e in a.kept]
    assert [r.id for r in b.rejected] == [r.id for r in a.rejected]
    assert len(a.kept) == 3 and len(a.rejected) == 3


def test_the_export_is_built_once_and_reused() -> None:
    first = exported_model("onnx-int8")
    stamp = first.stat().st_mtime_ns
    assert exported_model("onnx-int8") == first and first.stat().st_mtime_ns == stamp
    assert first.parent.name.startswith("all-minilm-l6-v2-onnx-")  # keyed by the weights' hash
    with pytest.raises(ValueError, match="precision 'bf16'"):
        exported_model("bf16")


def test_without_onnxruntime_the_filter_falls_back_to_torch_and_says_so_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # `import onnxruntime` now raises ImportError
    monkeypatch.setattr(coherence, "_warned", set())
    load_onnx_encoder.cache_clear()
    try:
        with caplog.at_level(logging.WARNING, logger="ouro.judge.coherence"):
            first = CoherenceFilter(threshold=0.2, window=WINDOW, precision="onnx-int8", cache=None)
            second = CoherenceFilter(threshold=0.2, window=WINDOW, precision="onnx-int8", cache=None)
    finally:
        load_onnx_encoder.cache_clear()
    assert first.precision == second.precision == "int8"
    assert not isinstance(first.encoder, coherence_onnx.OnnxEncoder)
    warnings = [r for r in caplog.records if "onnxruntime is not installed" in r.getMessage()]
    assert len(warnings) == 1
    kept = filter_batch([make(r, prompt=p) for p, r in PAIRS], [first]).kept
    assert len(kept) == 3  # and it still judges
