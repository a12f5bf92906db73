"""`make bench-learning --quick`: the learning benchmark end to end on the tiny model and a small
repository (cycles through a real bus, the ablation arms, the contamination check), and the
contamination measure itself on a row that copies a held-out prompt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git
import pytest

from ouro.stack import ROOT

MODULE = '''"""Helpers for {name}."""


def scale_{name}(values: list[float], factor: float) -> list[float]:
    """Multiply every value by `factor` and return a new list, leaving the input untouched."""
    return [v * factor for v in values]


def total_{name}(values: list[float]) -> float:
    """The sum of `values`, 0.0 for an empty list."""
    return float(sum(values))
'''


def small_repo(path: Path, commits: int) -> Path:
    repo = git.Repo.init(path)
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    for i in range(commits):
        (path / f"m{i}.py").write_text(MODULE.format(name=f"m{i}"))
        repo.index.add([f"m{i}.py"])
        repo.index.commit(f"feat: scaling helpers m{i}")
    return path


# ~2 min of CPU (two cycles through a real bus, five trainings, twelve evaluations of the tiny
# model), 4-10 min of wall time on the shared 2-core machine: run with `make test-slow`.
@pytest.mark.slow
@pytest.mark.timeout(1800)  # on a loaded shared machine it can take several times longer
def test_quick_learning_bench_writes_the_report_from_the_rows_it_trained_on(tmp_path: Path) -> None:
    repo = small_repo(tmp_path / "repo", 5)
    out = tmp_path / "results"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("OURO_NATS_URL", None)
    env.pop("OURO_EVALUATOR_GENERAL_SUITE", None)  # the bench sets its own general subset
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "bench_learning.py"), "--quick", "--repo", str(repo),
         "--sessions", "", "--cycles", "2", "--step", "2", "--work", str(tmp_path / "work"), "--out-dir", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1700)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    result = json.loads((out / "learning.json").read_text())
    assert {"gain", "cycles", "ablation", "forgetting", "contamination", "choices"} <= set(result)
    assert isinstance(result["gain"], float)
    assert len(result["cycles"]) == 2 and result["cycles"][1]["commits"] == 2
    assert all(r["categories"] and r["tokens"] for r in result["cycles"])
    ablation = result["ablation"]
    assert set(ablation["arms"]) >= {"filtered", "raw", "continue", "retrain"}
    assert {a["train"]["steps"] for a in ablation["arms"].values()} == {result["choices"]["max_steps"]}  # equal steps
    assert ablation["arms"]["continue"]["continues"] == "filtered"
    assert "filtered_vs_raw" in ablation["comparisons"] and "continue_vs_retrain" in ablation["comparisons"]
    # contamination is computed from the rows actually trained on: every dataset, every row
    contamination = result["contamination"]["datasets"]
    for i, row in enumerate(result["cycles"], start=1):
        assert contamination[f"cycle {i}"]["rows"] == row["dataset"]
    for name, arm in ablation["arms"].items():
        assert contamination[f"ablation {name}"]["rows"] == arm["rows"] == arm["train"]["examples"]
    assert result["contamination"]["rows_above_threshold"] == 0
    assert result["choices"]["max_new_tokens"] and result["choices"]["held_out_suite"]["prompts"] > 0
    md = (out / "learning.md").read_text()
    assert "## Ablation" in md and "## Contamination" in md and "max_steps" in md
    assert (out / "learning.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_contamination_flags_a_row_that_copies_a_held_out_prompt() -> None:
    from benchmarks.learning.contamination import check_rows, held_out_index
    from shared.suites import load_suite

    suite = load_suite("orchestrator")
    index = held_out_index([suite])
    item = next(i for i in suite.items if i.category == "architecture")
    copied = [{"role": "user", "content": item.messages[-1].content}, {"role": "assistant", "content": "Sure."}]
    clean = [{"role": "user", "content": "Rename the variable in utils.py"}, {"role": "assistant", "content": "Done."}]
    report = check_rows(index, [copied, clean], threshold=0.5)
    assert report["rows"] == 2 and report["rows_above_threshold"] == 1
    assert report["max_overlap_item"] == f"orchestrator/{item.id}" and report["max_overlap"] > 0.5


def test_stage_seconds_split_a_cycle_at_its_events() -> None:
    """The share of a cycle's wall time per stage comes from the events' own timestamps."""
    from datetime import UTC, datetime, timedelta

    from ouro.cycles import stage_seconds
    from shared.events import CorpusUpdated, DatasetReady, HarvestCompleted, HarvestRequested

    t0 = datetime(2026, 1, 1, tzinfo=UTC)

    def at(kind: type, s: float) -> object:
        return kind.model_construct(cycle_id="c", occurred_at=t0 + timedelta(seconds=s))

    events = [HarvestRequested(cycle_id="c", specialist="orchestrator", reason="manual", occurred_at=t0),
              at(HarvestCompleted, 10), at(CorpusUpdated, 12), at(DatasetReady, 15)]
    # the judge's stage ends with the dataset (training can start), not with the corpus update before it
    assert stage_seconds(events) == {"harvest": 10.0, "judge": 5.0}
