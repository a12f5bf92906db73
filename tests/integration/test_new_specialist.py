"""Adding a specialist is configuration only: a specialist file and its suite files, written here,
named by OURO_SPECIALISTS. The five services (separate processes on a real nats-server, the tiny
model) then run a whole cycle for it — harvest, judge, train, evaluate, decide — with no code
change anywhere. This is the recipe in docs/architecture.md ("Add a specialist")."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest

from ouro.cycle import run_cycle
from ouro.stack import Stack
from shared.bus import Bus
from shared.events import CheckpointReady, DatasetReady, EvalCompleted, HarvestCompleted, HarvestRequested, new_id
from shared.nats_server import free_port
from shared.registry import REGISTRY_BUCKET, Registry
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir
from tests.support.specialists import use_specialists

WRITER = """
specialists:
  writer:
    suite: writer-suite
    categories: {documentation: 0.5, explanation: null}
    tasks: {explain_doc: documentation, explain_function: explanation, explain_class: explanation}
    training: {epochs: 1.0, lora_r: 4, lora_alpha: 8}
    promotion: {min_overall: 0.0, min_category: 0.0, must_beat_champion: false}
    tokens: {min: 5, max: 600}
    cadence: {harvest: '0 * * * *', train: '0 3 * * *'}
"""

DOC = """# Queue service

## Eviction

The queue keeps at most `size` jobs. When a new job arrives and the queue is full, the oldest job
is dropped so that the newest work is always kept; callers that cannot lose jobs must size it.

## Retries

A failed job is retried three times with exponential backoff before it is reported to the operator.
"""

CODE = '''"""A bounded job queue."""


class JobQueue:
    """A FIFO of pending jobs; the oldest job is dropped when the queue is full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[str] = []

    def push(self, job: str) -> None:
        """Add a job, evicting the oldest one when the queue is at capacity."""
        self.items.append(job)
        if len(self.items) > self.size:
            self.items.pop(0)


def enqueue_all(jobs: list[str], size: int) -> JobQueue:
    """A queue holding the newest `size` of `jobs`."""
    queue = JobQueue(size)
    for job in jobs:
        queue.push(job)
    return queue
'''


def _suite(root: Path) -> None:
    root.mkdir(parents=True)
    rows = {
        "documentation": [("What happens when the job queue is full?", ["oldest"]),
                          ("How often is a failed job retried?", ["three", "3"])],
        "explanation": [("Explain what JobQueue.push does.", ["append", "evict", "oldest"])],
    }
    for category, items in rows.items():
        with (root / f"{category}.jsonl").open("w") as f:
            for i, (q, words) in enumerate(items):
                f.write(json.dumps({"id": f"{category}-{i}", "category": category,
                                    "messages": [{"role": "user", "content": q}],
                                    "scorer": {"type": "contains", "strings": words}}) + "\n")


@pytest.fixture
def writer_file(tmp_path: Path) -> Path:
    _suite(tmp_path / "writer-suite")
    path = tmp_path / "specialists.yaml"
    path.write_text(WRITER)
    return path


@pytest.fixture
def docs_repo(tmp_path: Path) -> git.Repo:
    r = git.Repo.init(tmp_path / "repo")
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    (tmp_path / "repo" / "README.md").write_text(DOC)
    (tmp_path / "repo" / "jobs.py").write_text(CODE)
    r.index.add(["README.md", "jobs.py"])
    r.index.commit("docs: describe the job queue")
    return r


async def test_a_specialist_added_by_configuration_runs_a_whole_cycle(
    writer_file: Path, docs_repo: git.Repo, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {
        "OURO_SPECIALISTS": str(writer_file),
        "OURO_BASE_MODEL": str(tiny_model_dir),
        "OURO_TRAINER_MAX_STEPS": "2", "OURO_TRAINER_MAX_LENGTH": "256", "OURO_EVALUATOR_MAX_NEW_TOKENS": "8",
        "OURO_JUDGE_COHERENCE": "false", "OMP_NUM_THREADS": "1",
    }
    with use_specialists(monkeypatch, writer_file), Stack(tmp_path / "ouro", env=env, port=free_port()) as stack:
        bus = await Bus.connect(stack.url, "test-writer", attempts=10, auth=stack.auth("admin"))
        try:
            request = HarvestRequested(cycle_id=new_id(), specialist="writer", repo=docs_repo.working_tree_dir)
            outcome = await run_cycle(bus, request, timeout=300)
            logs = "\n".join(f"--- {n}\n{stack.log_text(n)[-1500:]}" for n in stack.procs)
            assert outcome.decision == "promoted", f"{outcome.decision} {outcome.reasons}\n{logs}"

            harvested = next(e for e in outcome.events if isinstance(e, HarvestCompleted))
            assert set(harvested.by_generator) >= {"docs", "ast_code"}
            dataset = next(e for e in outcome.events if isinstance(e, DatasetReady))
            # the judge balanced on the writer's categories, from the file alone
            assert dataset.kept > 0 and set(dataset.mix) <= {"documentation", "explanation"}
            checkpoint = next(e for e in outcome.events if isinstance(e, CheckpointReady))
            assert checkpoint.specialist == "writer" and checkpoint.metrics.steps == 2
            evaluation = next(e for e in outcome.events if isinstance(e, EvalCompleted))
            # the evaluator scored the writer's own suite, found through the file
            assert evaluation.suite == "writer-suite" and evaluation.prompts == 3
            assert set(evaluation.candidate) == {"documentation", "explanation"}
            champion, _ = await Registry(await bus.kv(REGISTRY_BUCKET)).champion("writer")
            assert champion is not None and champion.checkpoint_id == checkpoint.checkpoint_id
            # the trainer used the file's LoRA settings
            store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
            adapter = await get_dir(store, checkpoint.adapter, tmp_path / "adapter")
            config = json.loads((adapter / "adapter_config.json").read_text())
            assert (config["r"], config["lora_alpha"]) == (4, 8)
        finally:
            await bus.close()
