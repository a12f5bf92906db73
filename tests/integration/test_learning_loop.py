"""The loop that keeps learning, on the real bus with the five services as processes and a real
git repository: commits grow the corpus and train only once enough is new; the training after
them replays what earlier cycles learned and continues the champion; a rewritten function and a
deleted module retire their examples; `ouro lineage` names the commits that fed a checkpoint."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import git
import pytest

from ouro.cycle import CycleOutcome, run_cycle
from ouro.stack import ROOT, Stack
from shared.bus import Bus
from shared.events import CheckpointReady, CommitsNew, CorpusUpdated, DatasetReady, HarvestRequested, new_id
from shared.nats_server import free_port
from shared.suites import SUITES_DIR
from tests.support.specialists import use_specialists

# each module's commit adds 3 kept examples here (the judge drops the near copies of other modules'):
# four commits reach the threshold, the fifth only accumulates
MIN_NEW = 12
SPEC = f"""
specialists:
  coder:
    suite: {SUITES_DIR / "coder"}
    categories: {{instruction: 0.40, editing: 0.25, debugging: 0.20, review: 0.10, test_generation: 0.05}}
    tasks: {{explain_function: instruction, write_function: instruction, explain_class: instruction,
            diff_review: review, diff_edit: editing, commit_message: review}}
    hints: {{diff_review/bugfix: debugging, diff_edit/bugfix: debugging}}
    training: {{epochs: 1.0, lora_r: 4, lora_alpha: 8, start_from: champion}}
    promotion: {{min_overall: 0.0, min_category: 0.0, must_beat_champion: false}}
    # schedules that never come due during the test: only commits and `ouro cycle` train here
    cadence: {{harvest: '0 0 1 1 *', train: '0 0 1 1 *', min_new_examples: {MIN_NEW}}}
"""

MODULE = '''"""Helpers for the {name} queue."""


def push_{name}(items: list[str], job: str, size: int) -> list[str]:
    """Append a {name} job and drop the oldest one when more than `size` are waiting."""
    items = [*items, job]
    return items[-size:]


def drain_{name}(items: list[str]) -> list[str]:
    """Return the {name} jobs oldest first and leave the queue empty for the next batch."""
    out = list(items)
    items.clear()
    return out


# a caller: ast_code explains only what something in the repository uses
def cycle_{name}(items: list[str], job: str, size: int) -> list[str]:
    """Queue one {name} job, then hand back everything waiting, oldest first."""
    return drain_{name}(push_{name}(items, job, size))
'''


def _commit(repo: git.Repo, files: dict[str, str | None], message: str) -> str:
    root = Path(repo.working_tree_dir)
    for rel, text in files.items():
        if text is None:
            repo.index.remove([rel], working_tree=True)
        else:
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
            repo.index.add([rel])
    return repo.index.commit(message).hexsha


async def _follow(stack: Stack, request) -> CycleOutcome:  # noqa: ANN001 - any event that starts a cycle
    # admin: the test plays the git hook (commits.new) and the operator (harvest.requested)
    bus = await Bus.connect(stack.url, "test-learning", attempts=10, auth=stack.auth("admin"))
    try:
        outcome = await run_cycle(bus, request, timeout=300)
    finally:
        await bus.close()
    assert outcome.decision in ("promoted", "rejected", "accumulated"), (
        outcome.decision, outcome.reasons, {n: stack.log_text(n)[-2000:] for n in stack.procs})
    return outcome


def _one(outcome: CycleOutcome, kind: type):  # noqa: ANN202
    found = [e for e in outcome.events if isinstance(e, kind)]
    assert len(found) == 1, (kind.__name__, outcome.events)
    return found[0]


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "specialists.yaml"
    path.write_text(SPEC)
    return path


async def test_commits_accumulate_then_train_on_replay_and_retire_what_changed(
    spec_file: Path, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git.Repo.init(tmp_path / "repo")
    with repo.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    _commit(repo, {"pkg/base.py": MODULE.format(name="base")}, "feat: the base queue helpers")
    env = {
        "OURO_SPECIALISTS": str(spec_file), "OURO_BASE_MODEL": str(tiny_model_dir),
        "OURO_TRAINER_MAX_STEPS": "2", "OURO_TRAINER_MAX_LENGTH": "256", "OURO_EVALUATOR_MAX_NEW_TOKENS": "8",
        "OURO_JUDGE_COHERENCE": "false", "OURO_HARVESTER_TOOL_SPECS": "[]", "OURO_HARVESTER_DOCS": "false",
        "OMP_NUM_THREADS": "1",
    }
    with use_specialists(monkeypatch, spec_file), Stack(tmp_path / "ouro", env=env, port=free_port()) as stack:
        # A first, manual cycle: trains at once, and its candidate becomes the champion.
        root = str(repo.working_tree_dir)
        first = await _follow(stack, HarvestRequested(cycle_id=new_id(), specialist="coder", repo=root))
        assert first.decision == "promoted"
        champion = _one(first, CheckpointReady)
        assert champion.parent is None  # nothing to continue yet: a fresh adapter on the base model

        # Five commits: each grows the corpus; a training starts only once MIN_NEW are new.
        new_before, trained = 0, []
        for i in range(5):
            files = {f"pkg/m{i}.py": MODULE.format(name=f"m{i}")}
            if i == 0:  # a change to existing code too: its review carries the commit into the lineage
                files["pkg/base.py"] = MODULE.format(name="base").replace("return out", "return out[::-1]")
            sha = _commit(repo, files, f"feat: queue helpers m{i}")
            out = await _follow(stack, CommitsNew(cycle_id=new_id(), repo=str(repo.working_tree_dir), sha=sha,
                                                  branch="master"))
            update = _one(out, CorpusUpdated)
            assert update.added > 0
            assert update.training == (new_before + update.added >= MIN_NEW), (i, new_before, update)
            new_before = 0 if update.training else update.new_since_training
            if update.training:
                trained.append(out)
        assert len(trained) == 1, "five commits, one training: triggers below the threshold only accumulate"

        # The training after the commits is a snapshot of the corpus: the commits' examples are new,
        # the first cycle's are replayed; and it continues the champion instead of starting over.
        dataset = _one(trained[0], DatasetReady)
        assert dataset.new > 0 and dataset.replayed > 0 and dataset.kept == dataset.new + dataset.replayed
        checkpoint = _one(trained[0], CheckpointReady)
        assert checkpoint.parent == champion.checkpoint_id

        # A rewritten function and a deleted module: their examples retire, with the reason.
        rewritten = MODULE.format(name="m3").replace("items[-size:]", "items[len(items) - size:]").replace(
            "drop the oldest one", "evict the oldest job")
        sha = _commit(repo, {"pkg/m3.py": rewritten, "pkg/m4.py": None}, "refactor: m3 eviction; drop m4")
        out = await _follow(stack, CommitsNew(cycle_id=new_id(), repo=str(repo.working_tree_dir), sha=sha,
                                              branch="master"))
        update = _one(out, CorpusUpdated)
        assert update.retired.get("source_gone", 0) >= 2, update  # m4's functions
        assert update.retired.get("source_changed", 0) >= 1, update  # m3's rewritten push

        # Lineage: the checkpoint, its dataset and corpus version, and the commits that fed it.
        lineage = subprocess.run(
            [sys.executable, "-m", "ouro.cli", "lineage", checkpoint.checkpoint_id, "--json", "--nats-url", stack.url],
            cwd=ROOT, env=stack.env(), capture_output=True, text=True, timeout=120)
        assert lineage.returncode == 0, lineage.stderr
        info = json.loads(lineage.stdout.strip().splitlines()[-1])
        assert info["parent"] == champion.checkpoint_id and info["dataset_id"] == dataset.dataset_id
        assert info["corpus_version"] == dataset.corpus_version
        assert sum(info["by_generator"].values()) == dataset.kept
        shas = {c.hexsha for c in repo.iter_commits()}
        assert info["commits"] and set(info["commits"]) <= shas
