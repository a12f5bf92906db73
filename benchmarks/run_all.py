"""`make bench`: run every benchmark, print one summary and write it to .ouro/bench.json.

Targets are reported, not asserted (timed assertions make flaky tests): each figure is set
beside a baseline measured in the same run where one exists (the full harvest for an
incremental one, one-prompt-at-a-time generation for batched generation).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


def main() -> int:
    real = "--real" in sys.argv
    harvest = run("bench_harvest.py")
    judge = run("bench_judge.py")
    train_eval = run("bench_train_eval.py", *(["--real"] if real else []))
    hook = run("bench_hook.py")
    gen = train_eval.get("tiny_generate", {})
    summary = {
        "harvest_full_s": harvest["full_s"],
        "harvest_full_target_met (<= 60 s, 1,000 files, 500 commits)": harvest["full_s"] <= 60,
        "harvest_incremental_s": harvest["incremental_diffs_only_s"],
        "harvest_incremental_target_met (<= 2 s)": harvest["incremental_diffs_only_s"] <= 2,
        "harvest_incremental_over_full": round(harvest["incremental_diffs_only_s"] / max(harvest["full_s"], 1e-9), 4),
        "hook_commit_ms_median (with hook / without)": [hook["with_hook"]["median_ms"],
                                                         hook["without_hook"]["median_ms"]],
        "hook_events_delivered": f'{hook["events_in_stream"]}/{hook["commits"]}',
        "judge_examples_per_s": judge["examples_per_s_filter"],
        "judge_coherence_int8_speedup (vs fp32, same examples)": judge["coherence_int8_speedup"],
        "generate_batched_speedup (vs one prompt at a time)": gen.get("batched_speedup"),
        "details": {"harvest": harvest, "judge": judge, "train_eval": train_eval, "hook": hook},
    }
    out = ROOT / ".ouro" / "bench.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "details"}, indent=2))
    print(f"details: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
