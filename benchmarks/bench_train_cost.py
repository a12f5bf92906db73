"""The cost of one cycle: the project's trainer against a plain TRL script, batched against
one-prompt-at-a-time evaluation, and the share of a cycle's wall time per stage. Prints one JSON.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_train_cost.py            # tiny model: seconds
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_train_cost.py --real     # SmolLM2-135M: minutes

Training: the same rows (a dataset the judge wrote from this repository's harvest, or the suite
rows with --synthetic), the same LoRA and optimiser settings, the same number of steps, each run
in a fresh process as the trainer service runs its worker, alternating which goes first. Each
process reports where its time went: imports, setup (model, tokenizer, dataset, SFTTrainer, which
tokenizes), the training loop (from the Trainer's train-begin to train-end callbacks), saving.
Tokens are the non-padding tokens the loop saw (both count them the same way), so padding shows
as time, not as tokens; the padding share of the batches is reported beside.

Stages: from the events' timestamps of the cycles of the last `make bench-learning`
(benchmarks/results/learning.json), when there is one.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STARTED = time.monotonic()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_k, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


# ---------------------------------------------------------------- the two training processes


def _timer():  # noqa: ANN202 - a TrainerCallback, transformers imported lazily
    from transformers import TrainerCallback

    class Timer(TrainerCallback):
        begin = end = 0.0

        def on_train_begin(self, *a, **k) -> None:  # noqa: ANN002, ANN003
            self.begin = time.monotonic()

        def on_train_end(self, *a, **k) -> None:  # noqa: ANN002, ANN003
            self.end = time.monotonic()

    return Timer()


def child_trainer(args: argparse.Namespace) -> dict:
    """What the trainer service's worker runs (services/trainer/worker.py): train_adapter."""
    from services.trainer.train import TrainConfig, train_adapter

    imported = time.monotonic()
    timer = _timer()
    config = TrainConfig.from_json(args.config_json)
    m = train_adapter(Path(args.dataset), Path(args.base), Path(args.out), config, callbacks=[timer])
    done = time.monotonic()
    return {"import_s": imported - STARTED, "setup_s": timer.begin - imported, "train_s": timer.end - timer.begin,
            "after_s": done - timer.end, "tokens": m.tokens, "steps": m.steps, "duration_s_reported": m.duration_s}


def child_plain(args: argparse.Namespace) -> dict:
    """A plain TRL SFTTrainer script: the same rows and LoRA/optimiser settings, TRL's defaults otherwise."""
    import torch
    from datasets import load_from_disk
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from services.trainer.train import TrainConfig

    imported = time.monotonic()
    c = TrainConfig.from_json(args.config_json)
    dataset = load_from_disk(str(Path(args.dataset) / "data")).select_columns(["messages"])
    model = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    timer = _timer()
    sft = SFTConfig(output_dir=args.out, max_steps=c.max_steps, per_device_train_batch_size=c.batch_size,
                    gradient_accumulation_steps=c.grad_accum, learning_rate=c.learning_rate,
                    lr_scheduler_type=c.lr_scheduler, max_length=c.max_length, seed=c.seed, save_strategy="no",
                    report_to="none", use_cpu=True, disable_tqdm=True, logging_steps=1,
                    include_num_input_tokens_seen="non_padding")
    lora = LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                      target_modules=c.target_modules, bias="none", task_type="CAUSAL_LM")
    trainer = SFTTrainer(model=model, args=sft, train_dataset=dataset, processing_class=tokenizer, peft_config=lora,
                         callbacks=[timer])
    return _train_and_time(trainer, timer, imported, args.out)


def _train_and_time(trainer, timer, imported: float, out: str) -> dict:  # noqa: ANN001
    """Train, save, and split the child's wall time into import, set-up, training and after."""
    trainer.train()
    trainer.model.save_pretrained(out)
    done = time.monotonic()
    return {"import_s": imported - STARTED, "setup_s": timer.begin - imported, "train_s": timer.end - timer.begin,
            "after_s": done - timer.end, "tokens": int(trainer.state.num_input_tokens_seen),
            "steps": trainer.state.global_step}


def child_plain_peft(args: argparse.Namespace) -> dict:
    """Plain transformers + PEFT (no TRL): the chat-templated rows, causal-LM loss on every token,
    the trainer's own 4-bit QLoRA recipe on CUDA (nf4, bf16 compute, double quant), fp32 on CPU."""
    import torch
    from datasets import Dataset, load_from_disk
    from peft import LoraConfig, get_peft_model
    from transformers import (
        AutoModelForCausalLM,
        AutoTokenizer,
        DataCollatorForLanguageModeling,
        Trainer,
        TrainingArguments,
    )

    from services.trainer.train import TrainConfig

    imported = time.monotonic()
    c = TrainConfig.from_json(args.config_json)
    cuda = torch.cuda.is_available()
    tokenizer = AutoTokenizer.from_pretrained(args.base)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    rows = load_from_disk(str(Path(args.dataset) / "data"))["messages"]
    texts = [tokenizer.apply_chat_template(list(m), tokenize=False) for m in rows]
    dataset = Dataset.from_dict(dict(tokenizer(texts, truncation=True, max_length=c.max_length)))
    if cuda:
        from peft import prepare_model_for_kbit_training
        from transformers import BitsAndBytesConfig

        quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16,
                                   bnb_4bit_use_double_quant=True)
        model = AutoModelForCausalLM.from_pretrained(args.base, quantization_config=quant, dtype=torch.bfloat16,
                                                     device_map={"": 0})
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True)
    else:
        model = AutoModelForCausalLM.from_pretrained(args.base, dtype=torch.float32)
    model = get_peft_model(model, LoraConfig(r=c.lora_r, lora_alpha=c.lora_alpha, lora_dropout=c.lora_dropout,
                                             target_modules=c.target_modules, bias="none", task_type="CAUSAL_LM"))
    timer = _timer()
    targs = TrainingArguments(output_dir=args.out, max_steps=c.max_steps, per_device_train_batch_size=c.batch_size,
                              gradient_accumulation_steps=c.grad_accum, learning_rate=c.learning_rate,
                              lr_scheduler_type=c.lr_scheduler, seed=c.seed, bf16=cuda, use_cpu=not cuda,
                              save_strategy="no", report_to="none", disable_tqdm=True, logging_steps=1,
                              include_num_input_tokens_seen="non_padding")
    trainer = Trainer(model=model, args=targs, train_dataset=dataset, callbacks=[timer],
                      data_collator=DataCollatorForLanguageModeling(tokenizer, mlm=False))
    return _train_and_time(trainer, timer, imported, args.out)


CHILDREN = {"trainer": child_trainer, "trainer_random_batches": child_trainer, "plain_trl": child_plain,
            "plain_peft": child_plain_peft}


def run_child(kind: str, dataset: Path, base: Path, config_json: str, work: Path) -> dict:
    out = work / f"{kind}-{time.monotonic_ns()}"
    if kind == "trainer_random_batches":  # the trainer as it was before length-grouped batches
        config_json = json.dumps({**json.loads(config_json), "group_by_length": False})
    started = time.monotonic()
    proc = subprocess.run([sys.executable, __file__, "--child", kind, "--dataset", str(dataset), "--base", str(base),
                           "--out", str(out), "--config-json", config_json],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{kind} training failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.monotonic() - started
    inside = result["import_s"] + result["setup_s"] + result["train_s"] + result["after_s"]
    result["start_s"] = result["wall_s"] - inside  # the interpreter's own start, before the first import
    result = {k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}
    result["tokens_per_s_loop"] = round(result["tokens"] / result["train_s"], 1)
    result["tokens_per_s_wall"] = round(result["tokens"] / result["wall_s"], 1)
    return result


def padding_share(dataset: Path, base: Path, batch_size: int, max_length: int, seed: int) -> dict:
    """Share of padded positions in random batches (the Trainer's sampler) vs length-grouped batches."""
    import numpy as np
    from datasets import load_from_disk
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    rows = load_from_disk(str(dataset / "data"))["messages"]
    texts = [tok.apply_chat_template(list(m), tokenize=False) for m in rows]
    lengths = np.array([min(max_length, len(ids)) for ids in tok(texts, add_special_tokens=False)["input_ids"]])
    order = np.random.default_rng(seed).permutation(len(lengths))

    def share(idx: np.ndarray) -> float:
        batches = [lengths[idx[i:i + batch_size]] for i in range(0, len(idx), batch_size)]
        padded = sum(len(b) * b.max() for b in batches)
        return round(1 - float(sum(b.sum() for b in batches)) / float(padded), 3)

    grouped = np.concatenate([sorted(order[i:i + 50 * batch_size], key=lambda j: lengths[j])
                              for i in range(0, len(order), 50 * batch_size)])
    return {"rows": len(lengths), "mean_tokens": round(float(lengths.mean()), 1), "max_tokens": int(lengths.max()),
            "random_batches": share(order), "length_grouped_batches": share(np.asarray(grouped))}


# ---------------------------------------------------------------- the benchmark


def make_dataset(work: Path, base: Path, rows: int) -> Path:
    """This repository's harvest, judged (no coherence model, to keep it quick): the rows the trainer sees."""
    from services.harvester.core import harvest
    from services.harvester.plan import build_plan
    from services.harvester.settings import HarvesterSettings
    from services.judge.config import JudgeConfig
    from services.judge.core import judge
    from services.judge.dataset import write_dataset

    plan, _ = build_plan("orchestrator", HarvesterSettings(max_commits=50), repo=ROOT,
                         sessions=ROOT / "examples" / "sessions", tokenizer_dir=base)
    ds = judge(list(harvest(plan).examples), specialist="orchestrator", config=JudgeConfig(coherence=False),
               tokenizer_dir=base)
    ds = ds.model_copy(update={"examples": ds.examples[:rows]})
    write_dataset(ds, work / "dataset")
    return work / "dataset"


def bench_train(base: Path, work: Path, steps: int, repeats: int, max_length: int,
                baseline: str = "plain_trl") -> dict:
    from benchmarks.timing import stats
    from services.trainer.config import train_config
    from services.trainer.settings import TrainerSettings

    dataset = make_dataset(work, base, rows=400)
    config = train_config("orchestrator", TrainerSettings(max_steps=steps, max_length=max_length))
    kinds = ("trainer", "trainer_random_batches", baseline)
    runs: dict[str, list[dict]] = {k: [] for k in kinds}
    for i in range(repeats):  # rotate which goes first: a change in load hits all
        for kind in kinds[i % 3:] + kinds[:i % 3]:
            runs[kind].append(run_child(kind, dataset, base, config.to_json(), work))

    def ratio(kind: str, key: str) -> dict:
        return stats([t[key] / p[key] for t, p in zip(runs[kind], runs[baseline], strict=True)])

    phases = ("start_s", "import_s", "setup_s", "train_s", "after_s", "wall_s")
    return {
        "settings": {"steps": steps, "batch_size": config.batch_size, "max_length": config.max_length,
                     "lora_r": config.lora_r, "target_modules": config.target_modules},
        "padding": padding_share(dataset, base, config.batch_size, config.max_length, config.seed),
        "baseline": baseline,
        "trainer_over_baseline_tokens_per_s_loop": ratio("trainer", "tokens_per_s_loop"),
        "trainer_over_baseline_tokens_per_s_wall": ratio("trainer", "tokens_per_s_wall"),
        "random_batches_over_baseline_tokens_per_s_loop": ratio("trainer_random_batches", "tokens_per_s_loop"),
        "phases_median_s": {k: {p: stats([r[p] for r in v])["median"] for p in phases} for k, v in runs.items()},
        "runs": runs,
    }


def bench_eval(base: Path, prompts: int, max_new_tokens: int, batch_size: int) -> dict:
    """Prompts/s on the orchestrator suite (all 137 prompts by default), batched (the evaluator's
    batch size) vs one at a time."""
    from services.evaluator.backends import TransformersBackend
    from services.evaluator.suites import load_suite

    items = load_suite("orchestrator").items
    chats = [i.chat() for i in (items[:prompts] if prompts else items)]
    out: dict[str, object] = {"prompts": len(chats), "max_new_tokens": max_new_tokens}
    for bs in (1, batch_size):
        backend = TransformersBackend(base, batch_size=bs)
        started = time.monotonic()
        backend.generate(chats, max_new_tokens)
        out[f"prompts_per_s_batch_{bs}"] = round(len(chats) / (time.monotonic() - started), 3)
    out["batched_over_sequential"] = round(out[f"prompts_per_s_batch_{batch_size}"] / out["prompts_per_s_batch_1"], 2)
    return out


def stage_shares(path: Path) -> dict | None:
    if not path.exists():
        return None
    cycles = json.loads(path.read_text()).get("cycles", [])
    stages = [c.get("stages_s") or {} for c in cycles]
    total = sum(sum(s.values()) for s in stages)
    if not total:
        return None
    names = ("harvest", "judge", "train", "eval", "decide")
    return {"source": str(path.relative_to(ROOT)), "cycles": len(cycles), "total_s": round(total, 1),
            "share": {n: round(sum(s.get(n, 0.0) for s in stages) / total, 3) for n in names},
            "per_cycle_s": stages}


def _device() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--real", action="store_true", help="SmolLM2-135M-Instruct instead of the tiny test model")
    p.add_argument("--steps", type=int, default=0, help="training steps per run (default: 8 real, 4 tiny)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--max-length", type=int, default=384)
    p.add_argument("--eval-prompts", type=int, default=32,
                   help="prompts of the orchestrator suite to generate for (0: all 137; one at a time is slow)")
    p.add_argument("--base-model", default="", help="a model directory or .gguf instead (the GPU run's larger base)")
    p.add_argument("--baseline", choices=("plain_trl", "plain_peft"), default="plain_trl",
                   help="plain_trl: a TRL SFTTrainer script; plain_peft: transformers Trainer + PEFT (the GPU run)")
    p.add_argument("--child", choices=tuple(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--dataset", help=argparse.SUPPRESS)
    p.add_argument("--base", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--config-json", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        import contextlib

        with contextlib.redirect_stdout(sys.stderr):  # the Trainer prints; stdout is for the one JSON line
            result = CHILDREN[args.child](args)
        print(json.dumps(result))
        return 0

    from benchmarks.timing import machine
    from shared.models import resolve_base_model
    from tests.support.tiny_model import build_tiny_model

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        name = args.base_model or ("smollm2-135m-instruct" if args.real else "")
        base = resolve_base_model(name, ROOT / ".ouro") if name else build_tiny_model(work / "tiny")
        report = {"machine_start": machine(), "model": name or "tiny (random)", "device": _device()}
        report["train"] = bench_train(base, work, args.steps or (8 if name else 4), max(1, args.repeats),
                                      args.max_length, args.baseline)
        report["eval"] = bench_eval(base, args.eval_prompts, 96 if name else 16, 16)
        report["stages"] = stage_shares(ROOT / "benchmarks" / "results" / "learning.json")
        report["machine_end"] = machine()
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
