"""`make bench-learning`: does the loop make the model better? K cycles through the bus, an
ablation at equal training steps, a contamination check; writes benchmarks/results/learning.json,
learning.md and learning.png.

    .venv/bin/python benchmarks/bench_learning.py              # SmolLM2-135M, sized for ~60 min on 2 cores
    .venv/bin/python benchmarks/bench_learning.py --quick      # the tiny test model, ~2-3 min: the plumbing only

Every knob is a flag and an environment variable (OURO_BENCH_<FLAG>, e.g. OURO_BENCH_MAX_STEPS=40);
every value used is written into the JSON and the Markdown beside the numbers it produced.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
for _k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
    os.environ.setdefault(_k, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from benchmarks.timing import machine  # noqa: E402

# (flag, default, quick default, why): the budget of the CPU run and of --quick
KNOBS = {
    "cycles": (3, 3, "K successive cycles (the issue asks K >= 3)"),
    "step": (4, 2, "commits of this repository's history between two cycles"),
    "max_steps": (24, 2, "training steps per training (cycles and every ablation arm alike), batch 4"),
    "max_length": (384, 256, "tokens per training row (longer rows are cut)"),
    "per_category": (4, 1, "held-out prompts per category of the specialist's suite (deterministic scorers first)"),
    "general_per_category": (6, 1, "prompts per category of the general held-out set (code, gsm8k)"),
    "max_new_tokens": (64, 8, "tokens generated per prompt when evaluating"),
    "eval_batch_size": (16, 16, "prompts per generation batch"),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="the tiny random test model and the smallest budget")
    for name, (default, quick, why) in KNOBS.items():
        p.add_argument(f"--{name.replace('_', '-')}", type=int, default=None,
                       help=f"{why} (default {default}, --quick {quick}; env OURO_BENCH_{name.upper()})")
    p.add_argument("--specialist", default=os.environ.get("OURO_BENCH_SPECIALIST", "orchestrator"))
    p.add_argument("--repo", default=str(ROOT), help="the repository whose history is replayed (default: this one)")
    p.add_argument("--sessions", default=str(ROOT / "examples" / "sessions"))
    p.add_argument("--base-model", default=os.environ.get("OURO_BENCH_BASE_MODEL", ""),
                   help="a model directory or .gguf (default: the embedded SmolLM2-135M-Instruct; --quick: tiny)")
    p.add_argument("--work", default=str(ROOT / ".ouro" / "bench-learning"), help="scratch space (emptied first)")
    p.add_argument("--out-dir", default=str(ROOT / "benchmarks" / "results"))
    p.add_argument("--timeout", type=float, default=4 * 3600.0,
                   help="seconds one cycle may take (generous: a loaded 2-core machine trains 10-30x slower)")
    args = p.parse_args(argv)
    for name, (default, quick, _) in KNOBS.items():
        if getattr(args, name) is None:
            env = os.environ.get(f"OURO_BENCH_{name.upper()}")
            setattr(args, name, int(env) if env else quick if args.quick else default)
    if args.cycles < 2:
        p.error("--cycles must be at least 2: the ablation's two stages are the first and the last cycle's commits")
    return args


class Log:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def __call__(self, line: str) -> None:
        print(f"[{time.monotonic() - self.started:6.0f} s] {line}", flush=True)


def base_model(args: argparse.Namespace, work: Path) -> Path:
    from shared.models import DEFAULT_BASE_MODEL, resolve_base_model

    if args.base_model:
        return resolve_base_model(args.base_model, ROOT / ".ouro")
    if args.quick:
        from tests.support.tiny_model import build_tiny_model

        return build_tiny_model(work / "tiny-model")
    return resolve_base_model(DEFAULT_BASE_MODEL, ROOT / ".ouro")  # converted once, shared with `make run`


def service_env(args: argparse.Namespace, base: Path, suites: dict[str, Path]) -> dict[str, str]:
    """What the services (and the offline cores in this process) run with; recorded in the JSON."""
    env = {
        "OURO_BASE_MODEL": str(base),
        "OURO_TRAINER_MAX_STEPS": str(args.max_steps),
        "OURO_TRAINER_MAX_LENGTH": str(args.max_length),
        "OURO_EVALUATOR_SUITE": str(suites["held_out"]),
        "OURO_EVALUATOR_GENERAL_SUITE": str(suites["general"]),
        "OURO_EVALUATOR_MAX_NEW_TOKENS": str(args.max_new_tokens),
        "OURO_EVALUATOR_BATCH_SIZE": str(args.eval_batch_size),
        # no cron harvest or training in the middle of the measurement
        "OURO_HARVESTER_SCHEDULE": "false",
        "OURO_JUDGE_SCHEDULE": "false",
    }
    if args.quick:
        env |= {"OURO_JUDGE_COHERENCE": "false", "OURO_HARVESTER_MAX_COMMITS": "20"}
    return env


def evaluate_all(base: Path, adapters: dict[str, Path | None], suites: dict, args: argparse.Namespace,
                 log: Log) -> dict[str, dict]:
    from services.evaluator.service import score
    from services.evaluator.settings import EvaluatorSettings

    settings = EvaluatorSettings(max_new_tokens=args.max_new_tokens, batch_size=args.eval_batch_size)
    out: dict[str, dict] = {}
    for name, adapter in adapters.items():
        out[name] = {}
        for which, suite in suites.items():
            started = time.monotonic()
            out[name][which] = score(base, adapter, suite, settings)
            log(f"eval {name} on {which} ({len(suite.items)} prompts): {out[name][which].overall:.3f} "
                f"({time.monotonic() - started:.0f} s)")
    return out


def ablation(args: argparse.Namespace, base: Path, heads: list[str], suites: dict, work: Path, log: Log) -> dict:
    from benchmarks.learning.ablation import COMPARISONS, build_arms
    from services.evaluator.service import paired_stats
    from services.trainer.config import train_config
    from services.trainer.settings import TrainerSettings
    from services.trainer.train import train_adapter

    clone = work / "ablation-repo"
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", args.repo, str(clone)], check=True)
    arms, meta = build_arms(work / "arms", clone, (heads[0], heads[-1]), args.specialist,
                            Path(args.sessions) if args.sessions else None, base, log)
    config = train_config(args.specialist, TrainerSettings(max_steps=args.max_steps, max_length=args.max_length))
    adapters: dict[str, Path | None] = {"base": None}
    trained: dict[str, dict] = {}
    for arm in arms:
        out = work / "adapters" / arm.name
        init = adapters[arm.init] if arm.init else None
        metrics = train_adapter(arm.dataset, base, out, config, init_adapter=init)
        adapters[arm.name] = out
        trained[arm.name] = metrics.model_dump()
        log(f"train {arm.name}: {metrics.steps} steps on {arm.rows} rows, {metrics.tokens} tokens, loss "
            f"{metrics.first_loss}->{metrics.train_loss} ({metrics.duration_s:.0f} s)")
    results = evaluate_all(base, adapters, suites, args, log)

    def pair(a: str, b: str, which: str) -> dict:
        s = paired_stats(results[a][which], results[b][which], 0.95)
        return {"overall": s.overall.model_dump(), "categories": {c: p.model_dump() for c, p in s.paired.items()}}

    names = [a.name for a in arms]
    out: dict[str, object] = {
        "meta": meta,
        "arms": {a.name: {"what": a.what, "rows": a.rows, "continues": a.init, "train": trained[a.name],
                          "dataset": str(a.dataset)} for a in arms},
        "scores": {n: {w: {"overall": r.overall, "categories": r.categories, "unscored": r.unscored,
                           "eval_s": r.duration_s} for w, r in results[n].items()} for n in ["base", *names]},
        "vs_base": {n: pair(n, "base", "held_out") for n in names},
        "forgetting_vs_base": {n: pair(n, "base", "general")["overall"] for n in names},
        "comparisons": {f"{a}_vs_{b}": pair(a, b, "held_out") for a, b in COMPARISONS if a in names and b in names},
    }
    # per-prompt outputs, for anyone who wants to look at what the numbers are made of
    (work / "ablation-outputs.json").write_text(json.dumps(
        {n: {w: r.model_dump(mode="json") for w, r in results[n].items()} for n in results}, indent=1))
    return out


def cycle_gain(fetched: list[dict]) -> dict | None:
    """The last cycle's candidate against the base, paired on the same held-out prompts: the base's
    per-prompt scores are the first cycle's champion's (the bare base model on a fresh loop)."""
    from services.evaluator.evaluate import SuiteResult
    from services.evaluator.service import paired_stats

    first, last = fetched[0].get("report"), fetched[-1].get("report")
    if not first or not last:
        return None
    base = SuiteResult.model_validate(json.loads(Path(first).read_text())["champion"])
    cand = SuiteResult.model_validate(json.loads(Path(last).read_text())["candidate"])
    stats = paired_stats(cand, base, 0.95)
    return {"base_overall": base.overall, "last_candidate_overall": cand.overall,
            "paired": stats.overall.model_dump(), "base_categories": base.categories,
            "last_candidate_categories": cand.categories}


def contamination(args: argparse.Namespace, datasets: dict[str, Path]) -> dict:
    from benchmarks.learning.contamination import check_rows, dataset_rows, held_out_index
    from services.judge.config import JudgeConfig
    from shared.specialists import profile
    from shared.suites import load_suite

    config = JudgeConfig()
    held_out = [load_suite(profile(args.specialist).suite_dir), load_suite("general")]
    index = held_out_index(held_out, config.decontam_ngram, config.decontam_fallback_ngram)
    per = {name: check_rows(index, dataset_rows(path), config.decontam_overlap) for name, path in datasets.items()}
    return {
        "measure": (f"word {config.decontam_ngram}-grams ({config.decontam_fallback_ngram}-grams for short items), "
                    "share of the row's or the item's n-grams found in the other, whichever is larger "
                    "(the judge's decontamination measure)"),
        "threshold": config.decontam_overlap,
        "held_out": {s.name: len(s.items) for s in held_out},
        "held_out_note": ("the FULL suites (every prompt, reference answer and scorer payload), "
                          "not only the subsets scored"),
        "rows_checked": sum(p["rows"] for p in per.values()),
        "rows_above_threshold": sum(p["rows_above_threshold"] for p in per.values()),
        "max_overlap": max((p["max_overlap"] for p in per.values()), default=0.0),
        "datasets": per,
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    log = Log()
    from benchmarks.learning import report
    from benchmarks.learning.cycles import run_bus_cycles
    from benchmarks.learning.suites import scorer_mix, subset

    work = Path(args.work).resolve()
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started, machine_start = time.monotonic(), machine()
    base = base_model(args, work)
    from shared.specialists import profile

    suite_name = profile(args.specialist).suite_dir.name
    suites = {"held_out": subset(suite_name, args.per_category, work / "suites"),
              "general": subset("general", args.general_per_category, work / "suites")}
    env = service_env(args, base, {k: work / "suites" / s.name for k, s in suites.items()})
    os.environ.update(env)  # the offline cores read the same settings as the services
    log(f"base {base}; held-out {len(suites['held_out'].items)} + general {len(suites['general'].items)} prompts")

    phase: dict[str, float] = {}
    t = time.monotonic()
    rows, heads, fetched = run_bus_cycles(work / "loop", Path(args.repo).resolve(), work, cycles=args.cycles,
                                          step=args.step, specialist=args.specialist,
                                          sessions=Path(args.sessions) if args.sessions else None, env=env,
                                          timeout=args.timeout, log=log)
    phase["cycles_s"] = round(time.monotonic() - t, 1)
    t = time.monotonic()
    abl = ablation(args, base, heads, suites, work, log)
    phase["ablation_s"] = round(time.monotonic() - t, 1)
    datasets = {f"cycle {i}": Path(f["dataset"]) for i, f in enumerate(fetched, start=1) if f.get("dataset")}
    datasets |= {f"ablation {n}": Path(a["dataset"]) for n, a in abl["arms"].items()}
    t = time.monotonic()
    contam = contamination(args, datasets)
    phase["contamination_s"] = round(time.monotonic() - t, 1)
    gain = cycle_gain(fetched)
    result = {
        "gain": round(gain["last_candidate_overall"] - gain["base_overall"], 6) if gain else None,
        "gain_detail": gain,
        "cycles": [asdict(r) for r in rows],
        "ablation": abl,
        "forgetting": {
            "cycles_general_vs_champion": [r.general for r in rows],
            "ablation_general_vs_base": abl["forgetting_vs_base"],
            "target": "the general held-out overall drops by at most 0.02 (2 points)",
        },
        "contamination": contam,
        "choices": {
            "quick": args.quick, "specialist": args.specialist, "base_model": str(base),
            **{k: getattr(args, k) for k in KNOBS}, "knobs": {k: v[2] for k, v in KNOBS.items()},
            "held_out_suite": {"name": suite_name, "prompts": len(suites["held_out"].items),
                               "scorers": scorer_mix(suites["held_out"]), "version": suites["held_out"].version},
            "general_suite": {"prompts": len(suites["general"].items), "scorers": scorer_mix(suites["general"]),
                              "version": suites["general"].version},
            "service_env": env, "replayed_heads": [h[:12] for h in heads],
        },
        "timing": {**phase, "total_s": round(time.monotonic() - started, 1)},
        "machine": {"start": machine_start, "end": machine()},
    }
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "learning.json").write_text(json.dumps(result, indent=2) + "\n")
    (out_dir / "learning.md").write_text(report.markdown(result))
    report.plot(result, out_dir / "learning.png")
    checkout = out_dir.resolve().parents[1]
    if not args.quick and out_dir.resolve() == checkout / "benchmarks" / "results":
        # the summary the README of the checkout the results belong to shows comes from this run
        report.update_readme(checkout / "README.md", result)
    log(f"wrote {out_dir / 'learning.json'}, learning.md, learning.png; gain {result['gain']}")
    print(json.dumps({"gain": result["gain"], "contamination_rows_above_threshold": contam["rows_above_threshold"],
                      "total_s": result["timing"]["total_s"]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
