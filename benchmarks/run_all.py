"""`make bench`: run every benchmark, print one summary and write it to .ouro/bench.json.

Targets are reported, not asserted (timed assertions make flaky tests): each figure is set
beside a baseline measured in the same run where one exists (the full harvest for an
incremental one, one-prompt-at-a-time generation for batched generation, the previous coherence
path for the judge), every timing is taken at least 3 times (median and spread, min..max), and
the machine (cores, load average) is printed beside the numbers: absolute times on a shared
machine vary with its load, ratios from the same run much less.

    .venv/bin/python benchmarks/run_all.py [--real] [--repeats=N]
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.timing import machine, stats  # noqa: E402

REPEATS = 3  # every timing at least this many times: median and spread


def run(script: str, *args: str) -> dict:
    started = time.monotonic()
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    # Each script ends with one JSON object; log lines (trainer dicts included) may come before it.
    starts = [i for i in range(len(out)) if out[i] == "{" and (i == 0 or out[i - 1] == "\n")]
    for i in reversed(starts):
        try:
            result = json.loads(out[i:])
            break
        except json.JSONDecodeError:
            continue
    else:
        raise RuntimeError(f"{script} printed no JSON result:\n{out[-2000:]}")
    result["wall_s"] = round(time.monotonic() - started, 1)
    return result


def runs(script: str, *args: str, repeats: int) -> list[dict]:
    return [run(script, *args) for _ in range(repeats)]


def spread(values: list[float], digits: int = 4) -> dict:
    return stats(values, digits)


def main() -> int:
    real = "--real" in sys.argv
    repeats = REPEATS
    for arg in sys.argv[1:]:
        if arg.startswith("--repeats="):
            repeats = max(3, int(arg.split("=", 1)[1]))
    machine_start = machine()
    # The harvest, generation and hook benches time once per process: run them `repeats` times.
    # The judge bench repeats inside (models load once) and alternates baseline and candidate.
    harvests = runs("bench_harvest.py", repeats=repeats)
    judge = run("bench_judge.py", f"--repeats={repeats}")
    train_evals = runs("bench_train_eval.py", *(["--real"] if real else []), repeats=repeats)
    hooks = runs("bench_hook.py", repeats=repeats)
    routers = runs("bench_router.py", repeats=repeats)
    # the cost of a cycle: trainer vs a plain TRL script (alternating, `repeats` each, in one process
    # pair per repeat), batched vs sequential evaluation, the stage shares of the last learning bench
    cost = run("bench_train_cost.py", f"--repeats={repeats}", *(["--real"] if real else []))
    full = [h["full_s"] for h in harvests]
    inc = [h["incremental_diffs_only_s"] for h in harvests]
    gen = [t.get("tiny_generate", {}).get("batched_speedup") for t in train_evals]
    stage = judge.get("filter_stage", {})
    summary = {
        "machine_start": machine_start,
        "note": "absolute times vary with the machine's load; ratios are against a baseline from the same run",
        "repeats": repeats,
        "harvest_full_s (1,000 files, 500 commits; target <= 60)": spread(full, 2),
        "harvest_incremental_s (diffs only, one new commit; target <= 2)": spread(inc, 3),
        "harvest_incremental_over_full (per run)": spread([i / max(f, 1e-9) for i, f in zip(inc, full, strict=True)]),
        "hook_commit_ms_median (with hook / without)": {
            "with": spread([h["with_hook"]["median_ms"] for h in hooks], 1),
            "without": spread([h["without_hook"]["median_ms"] for h in hooks], 1),
            "ratio (per run)": spread([h["with_hook"]["median_ms"] / max(h["without_hook"]["median_ms"], 1e-9)
                                       for h in hooks], 2),
        },
        "hook_events_delivered": [f'{h["events_in_stream"]}/{h["commits"]}' for h in hooks],
        "judge_filter_speedup (previous coherence path / now, same 2,000 examples)":
            stage.get("speedup (previous / now, same examples, per repeat)"),
        "judge_examples_per_s_median (previous / now)": [stage.get("previous_examples_per_s_median"),
                                                         stage.get("now_examples_per_s_median")],
        "judge_decision_agreement": {k: v for k, v in judge.get("agreement", {}).items() if k != "disagreements"},
        "judge_coherence_int8_speedup (vs fp32, previous path, same examples)":
            judge.get("coherence_int8_vs_fp32_previous_path_200", {}).get("speedup"),
        "generate_batched_speedup (vs one prompt at a time, per run)":
            spread([g for g in gen if g is not None], 2) if any(g is not None for g in gen) else None,
        "router_added_ms (vs the backend directly, same run)": {
            "p50": spread([r["overhead"]["added_p50_ms"] for r in routers], 2),
            "p99": spread([r["overhead"]["added_p99_ms"] for r in routers], 2)},
        "router_requests_per_s (steady / through a promotion and a rollback)": {
            "steady": spread([r["steady"]["requests_per_s"] for r in routers], 1),
            "swapping": spread([r["through_promotion_and_rollback"]["requests_per_s"] for r in routers], 1),
            "failed": [r["through_promotion_and_rollback"]["failed"] for r in routers]},
        "trainer_over_plain_trl_tokens_per_s (same rows and settings; training loop / whole process)": {
            "loop": cost["train"]["trainer_over_baseline_tokens_per_s_loop"],
            "whole_process": cost["train"]["trainer_over_baseline_tokens_per_s_wall"]},
        "train_phases_median_s (trainer / plain TRL)": cost["train"]["phases_median_s"],
        "train_padding_share (random / length-grouped batches)": cost["train"]["padding"],
        "eval_prompts_per_s (batched vs sequential, orchestrator suite)": cost["eval"],
        "cycle_stage_share (from the events of the last make bench-learning)":
            (cost["stages"] or {}).get("share"),
        "machine_end": machine(),
        "details": {"harvest": harvests, "judge": judge, "train_eval": train_evals, "hook": hooks,
                    "router": routers, "train_cost": cost},
    }
    out = ROOT / ".ouro" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "details"}, indent=2, ensure_ascii=False))
    print(f"details: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
