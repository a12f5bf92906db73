"""Trainer and evaluator throughput on CPU; prints one JSON object.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_train_eval.py           # tiny model, seconds
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_train_eval.py --real    # + SmolLM2-135M

Measures LoRA training tokens/s (`TrainMetrics.tokens / duration_s`, model loading included),
and the speed-up of batched over one-prompt-at-a-time generation on the orchestrator suite.
With `--real`, the same on the embedded SmolLM2-135M-Instruct base model.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def write_dataset(out: Path, n: int) -> Path:
    from datasets import Dataset

    from services.evaluator.suites import load_suite

    items = load_suite("orchestrator").items
    rows = []
    for i in range(n):
        item = items[i % len(items)]
        answer = item.reference or f"Handled {item.category} request {i}: routing it and reporting back."
        rows.append(
            {
                "id": f"bench-{i}",
                "category": item.category,
                "generator": "bench",
                "format": "chat",
                "messages": [*item.chat(), {"role": "assistant", "content": answer}],
            }
        )
    Dataset.from_list(rows).save_to_disk(str(out / "data"))
    return out


def bench_train(base: Path, work: Path, examples: int, max_steps: int, batch_size: int) -> dict[str, float]:
    from services.trainer.train import TrainConfig, train_adapter

    dataset = write_dataset(work / "dataset", examples)
    config = TrainConfig(max_steps=max_steps, batch_size=batch_size, max_length=512)
    m = train_adapter(dataset, base, work / "adapter", config)
    return {
        "examples": m.examples,
        "steps": m.steps,
        "tokens": m.tokens,
        "duration_s": m.duration_s,
        "tokens_per_s": round(m.tokens / m.duration_s, 1),
        "first_loss": round(m.first_loss or 0.0, 4),
        "final_loss": round(m.train_loss, 4),
    }


def bench_generate(base: Path, prompts: int, max_new_tokens: int, batch_size: int) -> dict[str, float]:
    from services.evaluator.backends import TransformersBackend
    from services.evaluator.suites import load_suite

    chats = [item.chat() for item in load_suite("orchestrator").items[:prompts]]
    timings = {}
    for bs in (1, batch_size):
        backend = TransformersBackend(base, batch_size=bs)
        started = time.monotonic()
        backend.generate(chats, max_new_tokens)
        timings[bs] = time.monotonic() - started
    return {
        "prompts": len(chats),
        "max_new_tokens": max_new_tokens,
        "unbatched_s": round(timings[1], 2),
        f"batched_{batch_size}_s": round(timings[batch_size], 2),
        "batched_speedup": round(timings[1] / timings[batch_size], 2),
    }


def bench_eval_suite(base: Path, adapter: Path | None, batch_size: int) -> dict[str, object]:
    from services.evaluator.backends import TransformersBackend
    from services.evaluator.evaluate import evaluate
    from services.evaluator.suites import load_suite

    started = time.monotonic()
    backend = TransformersBackend(base, adapter, batch_size=batch_size)
    loaded = time.monotonic() - started
    result = evaluate(backend, load_suite("orchestrator"))
    return {
        "load_s": round(loaded, 2),
        "eval_s": result.duration_s,
        "prompts": len(result.items),
        "overall": result.overall,
        "categories": result.categories,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--real", action="store_true", help="also benchmark SmolLM2-135M-Instruct")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import torch

    from shared.models import resolve_base_model
    from tests.support.tiny_model import build_tiny_model

    torch.set_num_threads(args.threads)
    report: dict[str, object] = {"torch_threads": args.threads, "device": "cpu"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tiny = build_tiny_model(work / "tiny")
        report["tiny_train"] = bench_train(tiny, work / "tiny-train", examples=32, max_steps=8, batch_size=4)
        report["tiny_generate"] = bench_generate(tiny, prompts=32, max_new_tokens=32, batch_size=16)
        if args.real:
            base = resolve_base_model("smollm2-135m-instruct", Path(__file__).resolve().parents[1] / ".ouro")
            real = bench_train(base, work / "real-train", examples=32, max_steps=8, batch_size=4)
            report["smollm2_train"] = real
            report["smollm2_eval_orchestrator"] = bench_eval_suite(base, work / "real-train" / "adapter", 16)
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
