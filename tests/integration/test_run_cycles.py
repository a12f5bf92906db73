"""`ouro run --cycles K` replays a repository's history on a scratch clone: each cycle sees the
next commits, trains on the corpus snapshot (new + replayed) and continues the champion; the
per-cycle table and its JSON come out last."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import git

from ouro.stack import ROOT

MODULE = '''"""Helpers for {name}."""


def scale_{name}(values: list[float], factor: float) -> list[float]:
    """Multiply every value by `factor` and return a new list, leaving the input untouched."""
    return [v * factor for v in values]
'''


def test_run_cycles_replays_history(tiny_model_dir: Path, tmp_path: Path) -> None:
    repo = git.Repo.init(tmp_path / "repo")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    for i in range(5):
        (tmp_path / "repo" / f"m{i}.py").write_text(MODULE.format(name=f"m{i}"))
        repo.index.add([f"m{i}.py"])
        repo.index.commit(f"feat: scaling helpers m{i}")
    env = {**os.environ, "OURO_DATA_DIR": str(tmp_path / "ouro"), "OURO_BASE_MODEL": str(tiny_model_dir),
           "OURO_TRAINER_MAX_STEPS": "2", "OURO_TRAINER_MAX_LENGTH": "256", "OURO_EVALUATOR_MAX_NEW_TOKENS": "8",
           "OURO_JUDGE_COHERENCE": "false", "OURO_HARVESTER_TOOL_SPECS": "[]", "OURO_EVALUATOR_GENERAL_SUITE": "",
           "OURO_PROMOTER_MIN_OVERALL": "0", "OURO_PROMOTER_MIN_CATEGORY": "0",
           "OURO_PROMOTER_MUST_BEAT_CHAMPION": "false", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    env.pop("OURO_NATS_URL", None)
    run = subprocess.run([sys.executable, "-m", "ouro.cli", "run", "--specialist", "coder", "--repo",
                          str(tmp_path / "repo"), "--cycles", "2", "--step", "2"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    rows = json.loads(next(ln for ln in run.stdout.splitlines() if ln.startswith("[{")))
    assert [r["decision"] for r in rows] == ["promoted", "promoted"]
    assert rows[1]["commits"] == 2  # the second cycle saw the next two commits of history
    assert rows[1]["replayed"] > 0 and rows[1]["new"] > 0  # trained on the corpus, not just the delta
    assert rows[0]["parent"] == "base" and rows[1]["parent"] not in (None, "base")  # continued the champion
    assert "new commits" in run.stdout  # the table a person reads
