"""Evaluation: wall time per suite, interval half-widths at n = 15, the smallest gain the gate sees.

    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_eval.py              # tiny model + statistics
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_eval.py --real       # + SmolLM2-135M (a subset)
    HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_eval.py --stats-only # the statistics alone

Not part of `make bench` (the SmolLM2 timing takes many minutes on two cores); writes
benchmarks/results/eval.json and prints the same JSON.

- Wall time: one model evaluated on each shipped suite (orchestrator, coder, reasoner, general)
  as the evaluator does it: batched greedy generation (max_new_tokens 96), the deterministic
  scorers, the sandbox for code, the base model as judge for `llm_judge` items. The tiny random
  model runs the full suites; SmolLM2-135M runs the first `--per-category` prompts of each
  category and the full-suite time is extrapolated linearly by prompt count (said in the output).
  A cycle evaluates the candidate (and, once per champion and suite version, the champion and the
  base model), plus the pairwise judging of `llm_judge` items.
- Half-width of the 95% percentile-bootstrap interval (shared/stats.py) of one category at n = 15:
  pass/fail at p = 0.5, and at the per-category scores SmolLM2 obtained (with --real) or at
  p in {0.1, 0.3}.
- Minimum detectable effect: paired pass/fail outcomes simulated at the suite's sizes (orchestrator:
  9 categories x 15), the gate's "better" test (the paired bootstrap interval of the overall
  difference above 0, shared/stats.compare_scores); the smallest overall improvement detected in
  80% of simulated evaluations, with independent prompts (worst case) and with prompt difficulty
  shared by both models (per-prompt rates ~ Beta, the realistic case).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SUITES = ("orchestrator", "coder", "reasoner", "general")
OUT = ROOT / "benchmarks" / "results" / "eval.json"


def subset(suite, per_category: int | None):  # noqa: ANN001, ANN201 - shared.suites.Suite
    if per_category is None:
        return suite
    kept, seen = [], {}
    for item in suite.items:
        seen[item.category] = seen.get(item.category, 0) + 1
        if seen[item.category] <= per_category:
            kept.append(item)
    return suite.model_copy(update={"items": tuple(kept)})


def time_suites(model_dir: Path, per_category: int | None, max_new_tokens: int) -> dict:
    from services.evaluator.backends import TransformersBackend
    from services.evaluator.evaluate import evaluate
    from services.evaluator.suites import load_suite

    backend = TransformersBackend(model_dir, None, batch_size=16)
    out = {}
    for name in SUITES:
        full = load_suite(name)
        suite = subset(full, per_category)
        started = time.monotonic()
        result = evaluate(backend, suite, max_new_tokens=max_new_tokens, judge=backend)
        wall = time.monotonic() - started
        row = {"prompts_total": len(full.items), "prompts_timed": len(suite.items), "wall_s": round(wall, 1),
               "overall": result.overall, "categories": result.categories, "unscored": result.unscored}
        if per_category is not None:
            row["full_suite_s_extrapolated"] = round(wall * len(full.items) / len(suite.items), 1)
        out[name] = row
        print(f"{name}: {len(suite.items)} prompts in {wall:.1f} s", file=sys.stderr, flush=True)
    return out


def half_widths(observed: dict[str, float]) -> dict:
    import numpy as np

    from shared.stats import interval

    rng = np.random.default_rng(1)
    out = {}
    for label, p in {"pass_fail_p0.5": 0.5, **observed}.items():
        k = round(15 * p)
        scores = [1.0] * k + [0.0] * (15 - k)  # the observed rate as pass/fail at n = 15
        iv = interval(scores, 0.95, rng)
        out[label] = {"p": round(k / 15, 3), "half_width": round((iv.ci_high - iv.ci_low) / 2, 3)}
    return out


def detect_rate(delta: float, p0: float, cats: int, n: int, sims: int, shared_difficulty: bool, seed: int) -> float:
    import numpy as np

    from shared.stats import compare_scores

    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(sims):
        champ, cand = {}, {}
        for c in range(cats):
            if shared_difficulty:  # one latent rate per prompt, both models: Beta with mean p0
                rates = rng.beta(2 * p0, 2 * (1 - p0), n)
            else:
                rates = np.full(n, p0)
            champ[f"c{c}"] = (rng.random(n) < rates).astype(float).tolist()
            cand[f"c{c}"] = (rng.random(n) < np.clip(rates + delta, 0, 1)).astype(float).tolist()
        hits += compare_scores(cand, champ).overall.ci_low > 0.0
    return hits / sims


def minimum_detectable(p0: float, cats: int, n: int, sims: int, shared_difficulty: bool) -> dict:
    grid = [round(0.01 * k, 2) for k in range(1, 41)]
    lo, hi = 0, len(grid) - 1  # the detection rate grows with delta: bisect for the first >= 0.8
    rates = {}
    while lo < hi:
        mid = (lo + hi) // 2
        rates[grid[mid]] = detect_rate(grid[mid], p0, cats, n, sims, shared_difficulty, seed=mid)
        if rates[grid[mid]] >= 0.8:
            hi = mid
        else:
            lo = mid + 1
    return {"mde_overall": grid[lo], "power_at_grid": dict(sorted(rates.items())), "p0": p0,
            "categories": cats, "n_per_category": n, "simulations": sims,
            "prompt_difficulty": "shared (Beta)" if shared_difficulty else "independent"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--real", action="store_true", help="also time SmolLM2-135M (a subset, extrapolated)")
    ap.add_argument("--stats-only", action="store_true")
    ap.add_argument("--per-category", type=int, default=3, help="SmolLM2: prompts timed per category")
    ap.add_argument("--sims", type=int, default=200)
    args = ap.parse_args()

    from benchmarks.timing import machine

    result: dict = {"machine": machine()}
    if OUT.exists():  # keep what an earlier run measured and this one does not redo
        result = json.loads(OUT.read_text()) | result
    observed: dict[str, float] = {}
    if not args.stats_only:
        from tests.support.tiny_model import build_tiny_model

        with tempfile.TemporaryDirectory() as tmp:
            tiny = build_tiny_model(Path(tmp) / "tiny")
            result["tiny"] = {"per_suite": time_suites(tiny, None, 96), "max_new_tokens": 96}
        if args.real:
            from shared.models import DEFAULT_BASE_MODEL, resolve_base_model
            from shared.settings import CommonSettings

            real = resolve_base_model(DEFAULT_BASE_MODEL, CommonSettings().data_dir)
            result["smollm2_135m"] = {
                "per_suite": time_suites(real, args.per_category, 96), "max_new_tokens": 96,
                "note": f"the first {args.per_category} prompts of each category timed; full-suite time "
                        "extrapolated linearly by prompt count",
            }
    real_scores = result.get("smollm2_135m", {}).get("per_suite", {}).get("orchestrator", {}).get("categories")
    observed = {f"observed_{c}": s for c, s in (real_scores or {"p0.1": 0.1, "p0.3": 0.3}).items()}
    result["half_width_n15"] = half_widths(observed)
    result["minimum_detectable_effect"] = {
        "gate": "paired 95% bootstrap interval of the overall difference above 0 (margin 0), 80% power",
        "orchestrator_independent": minimum_detectable(0.5, 9, 15, args.sims, False),
        "orchestrator_shared_difficulty": minimum_detectable(0.5, 9, 15, args.sims, True),
        "coder_shared_difficulty": minimum_detectable(0.5, 5, 15, args.sims, True),
        "reasoner_shared_difficulty": minimum_detectable(0.5, 3, 17, args.sims, True),
        "orchestrator_shared_difficulty_p0.1": minimum_detectable(0.1, 9, 15, args.sims, True),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
