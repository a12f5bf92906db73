"""The whole loop, end to end: a real nats-server, the five services as OS processes, a real git
repository, the project's example session logs and a tiny real Llama model. Then the faults:
an evaluator and a trainer killed mid-work, a malformed event, NATS missing at start."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import git
import httpx
import pytest
from safetensors.torch import load_file

from ouro.cycle import CycleOutcome, run_cycle
from ouro.stack import ROOT, Stack
from shared.bus import Bus
from shared.events import (
    CheckpointReady,
    DatasetReady,
    DeadLetter,
    EvalCompleted,
    ExamplesHarvested,
    HarvestCompleted,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
    Subject,
    new_id,
)
from shared.nats_server import EmbeddedNats, free_port
from shared.registry import REGISTRY_BUCKET, Registry
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, file_sha256, get_dir

SESSIONS = ROOT / "examples" / "sessions"
FIRST_HARVEST: list[HarvestCompleted] = []

MODULE = '''"""Routing helpers for the {name} component."""


def route_{name}(request: str, specialists: list[str]) -> str:
    """Pick the specialist whose name appears in the request, else the first one."""
    for specialist in specialists:
        if specialist in request.lower():
            return specialist
    return specialists[0]


class {cls}Queue:
    """A bounded FIFO of pending {name} jobs; the oldest job is dropped when it is full."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: list[str] = []

    def push(self, job: str) -> None:
        """Add a job, evicting the oldest when the queue is at capacity."""
        self.items.append(job)
        if len(self.items) > self.size:
            self.items.pop(0)
'''


def commit_module(repo: git.Repo, name: str, message: str) -> str:
    path = Path(repo.working_tree_dir) / "pkg" / f"{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(MODULE.format(name=name, cls=name.capitalize()))
    repo.index.add([str(path)])
    return repo.index.commit(message).hexsha


def edit_module(repo: git.Repo, name: str, message: str, old: str, new: str) -> str:
    """A change to an existing module: what a diff review is about (a new file alone gets none)."""
    path = Path(repo.working_tree_dir) / "pkg" / f"{name}.py"
    text = path.read_text()
    assert old in text, (name, old)
    path.write_text(text.replace(old, new))
    repo.index.add([str(path)])
    return repo.index.commit(message).hexsha


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> git.Repo:
    r = git.Repo.init(tmp_path_factory.mktemp("repo"))
    with r.config_writer() as cw:
        cw.set_value("user", "name", "Dev").set_value("user", "email", "dev@example.com")
    commit_module(r, "alpha", "feat: add the alpha router")
    commit_module(r, "beta", "feat: add the beta router")
    edit_module(r, "alpha", "fix: fall back to the last specialist when none is named",
                "return specialists[0]", "return specialists[-1]")
    edit_module(r, "beta", "fix: evict every job over capacity from the beta queue",
                "if len(self.items) > self.size:", "while len(self.items) > self.size:")
    return r


def tiny_cycle_env(tiny_model_dir: Path) -> dict[str, str]:
    """A cycle that finishes in a few minutes on CPU (also tests/integration/test_prometheus_scrape.py)."""
    return {
        "OURO_BASE_MODEL": str(tiny_model_dir),
        "OURO_TRAINER_MAX_STEPS": "3",
        "OURO_TRAINER_MAX_LENGTH": "256",
        "OURO_EVALUATOR_MAX_NEW_TOKENS": "24",
        # short ack_wait: a killed service's message comes back within seconds
        "OURO_HARVESTER_ACK_WAIT": "5", "OURO_TRAINER_ACK_WAIT": "5", "OURO_EVALUATOR_ACK_WAIT": "5",
        "OURO_JUDGE_ACK_WAIT": "5", "OURO_PROMOTER_ACK_WAIT": "5",
        # A random tiny model scores ~0: a lenient policy lets the test see a promotion happen.
        "OURO_PROMOTER_MIN_OVERALL": "0", "OURO_PROMOTER_MIN_CATEGORY": "0",
        "OURO_PROMOTER_MUST_BEAT_CHAMPION": "false",
        "OMP_NUM_THREADS": "1",
        # small batches, so the two judge filter workers below both get some
        "OURO_HARVESTER_BATCH_SIZE": "16",
    }


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, tiny_model_dir: Path):
    env = tiny_cycle_env(tiny_model_dir)
    metrics_port = free_port()
    s = Stack(tmp_path_factory.mktemp("ouro"), env=env, port=free_port(),
              service_env={"promoter": {"OURO_METRICS_PORT": str(metrics_port)},
                           "judge-filter-2": {"OURO_JUDGE_ROLE": "filter"}}).start()
    s.spawn("judge-filter-2", "judge")  # a second filter worker: the durable is their queue group
    s.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield s
    s.stop()


async def _cycle(stack: Stack, repo: git.Repo, watcher=None, timeout: float = 300) -> CycleOutcome:
    bus = await Bus.connect(stack.url, "test-cycle", attempts=5, auth=stack.auth("operator"))
    try:
        request = HarvestRequested(cycle_id=new_id(), specialist="orchestrator",
                                   repo=repo.working_tree_dir, sessions=str(SESSIONS))
        task = asyncio.create_task(watcher(request.cycle_id)) if watcher else None
        outcome = await run_cycle(bus, request, timeout=timeout)
        if task:
            await task
        return outcome
    finally:
        await bus.close()


def _crash_when(stack: Stack, service: str, needle: str):  # noqa: ANN202 - (count, watcher coroutine fn)
    """SIGKILL `service` the next time it logs `needle` (mid-work), then start it again."""
    before = stack.log_text(service).count(needle)

    async def crash(cycle_id: str) -> None:
        await _wait_for_log(stack, service, needle, times=before + 1)
        stack.kill(service)
        stack.spawn(service)

    return before, crash


def _diagnose(stack: Stack, outcome: CycleOutcome) -> str:
    """What a failed cycle got to, and what each service said last."""
    seen = ", ".join(type(e).__name__ for e in outcome.events)
    tails = "\n".join(f"--- {name}\n{stack.log_text(name)[-1500:]}" for name in (*stack.procs, "nats"))
    return f"decision={outcome.decision} reasons={outcome.reasons}\nevents: {seen}\n{tails}"


def _count(outcome: CycleOutcome) -> Counter[type]:
    return Counter(type(e) for e in outcome.events)


async def _wait_for_log(stack: Stack, service: str, needle: str, times: int = 1, timeout: float = 240) -> None:
    deadline = time.monotonic() + timeout
    while stack.log_text(service).count(needle) < times:
        assert time.monotonic() < deadline, f"{service} never logged {needle!r}:\n{stack.log_text(service)[-3000:]}"
        await asyncio.sleep(0.05)


async def test_full_cycle(stack: Stack, repo: git.Repo, tiny_model_dir: Path, tmp_path: Path) -> None:
    base_before = file_sha256(tiny_model_dir / "model.safetensors")
    outcome = await _cycle(stack, repo)
    assert outcome.decision == "promoted", _diagnose(stack, outcome)
    # Every process did its part as its own NATS identity, within its rights (shared/nats_auth.py).
    assert "Violation" not in stack.log_text("nats"), stack.log_text("nats")[-3000:]
    counts = _count(outcome)
    assert counts[HarvestRequested] == 1 and counts[ExamplesHarvested] >= 1 and counts[HarvestCompleted] == 1
    assert counts[DatasetReady] == counts[CheckpointReady] == counts[EvalCompleted] == counts[ModelPromoted] == 1

    harvested = next(e for e in outcome.events if isinstance(e, HarvestCompleted))
    assert harvested.example_count > 0 and len(harvested.by_generator) >= 3  # ast, git diffs, sessions
    FIRST_HARVEST.append(harvested)
    dataset = next(e for e in outcome.events if isinstance(e, DatasetReady))
    checkpoint = next(e for e in outcome.events if isinstance(e, CheckpointReady))
    evaluation = next(e for e in outcome.events if isinstance(e, EvalCompleted))
    assert checkpoint.dataset_id == dataset.dataset_id and evaluation.checkpoint_id == checkpoint.checkpoint_id

    bus = await Bus.connect(stack.url, "test-inspect", attempts=5, auth=stack.auth("admin"))
    try:
        store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
        # The dataset: HF datasets format with the report, its rows what the judge said it kept.
        ds_dir = await get_dir(store, dataset.ref, tmp_path / "dataset")
        report = json.loads((ds_dir / "report.json").read_text())
        assert report["dataset_id"] == dataset.dataset_id and report["kept"] == dataset.kept
        from datasets import load_from_disk

        rows = load_from_disk(str(ds_dir / "data"))
        assert len(rows) == dataset.kept and rows[0]["messages"][-1]["role"] == "assistant"
        # The adapter: LoRA weights moved away from their zero init; the base model is untouched.
        ad_dir = await get_dir(store, checkpoint.adapter, tmp_path / "adapter")
        weights = load_file(str(ad_dir / "adapter_model.safetensors"))
        assert weights and all("lora_" in k for k in weights)
        assert any(v.abs().sum() > 0 for k, v in weights.items() if "lora_B" in k)
        assert file_sha256(tiny_model_dir / "model.safetensors") == base_before
        assert checkpoint.metrics.steps == 3 and checkpoint.metrics.train_loss > 0
        # The scores: nine categories for candidate and champion (the base model), on the same prompts.
        assert set(evaluation.candidate) == set(evaluation.champion) and len(evaluation.candidate) == 9
        assert evaluation.champion_id is None
        assert all(0.0 <= v <= 1.0 for v in evaluation.candidate.values())
        cats = evaluation.candidate
        assert evaluation.candidate_overall == pytest.approx(sum(cats.values()) / len(cats), abs=1e-5)
        # The registry: the champion pointer moved to this checkpoint.
        champion, _ = await Registry(await bus.kv(REGISTRY_BUCKET)).champion("orchestrator")
        assert champion is not None and champion.checkpoint_id == checkpoint.checkpoint_id
        # ... with the candidate's scores from eval.completed, not the base model's
        assert champion.categories == evaluation.candidate and champion.overall == evaluation.candidate_overall
    finally:
        await bus.close()

    # Two filter workers shared the cycle's batches.
    for worker in ("judge", "judge-filter-2"):
        assert "filtered batch" in stack.log_text(worker), worker
    # The promoter's /metrics counted the promotion.
    text = httpx.get(stack.metrics_url, timeout=5).text
    assert 'ouro_promotions_total{specialist="orchestrator"} 1.0' in text
    assert 'ouro_events_handled_total{service="promoter",subject="ouro.eval.completed.v1"} 1.0' in text


async def test_evaluator_killed_mid_evaluation(stack: Stack, repo: git.Repo) -> None:
    edit_module(repo, "alpha", "fix: match alpha requests by the specialist's exact name",
                "if specialist in request.lower():", "if specialist in request:")

    before, kill_evaluator = _crash_when(stack, "evaluator", "evaluating checkpoint")
    outcome = await _cycle(stack, repo, kill_evaluator)
    assert outcome.decision in ("promoted", "rejected"), _diagnose(stack, outcome)
    counts = _count(outcome)
    assert counts[EvalCompleted] == 1
    assert counts[ModelPromoted] + counts[ModelRejected] == 1
    # Incremental: the repo's watermark limited this cycle's diffs to the one new commit.
    harvested = next(e for e in outcome.events if isinstance(e, HarvestCompleted))
    assert 0 < harvested.by_generator["git_diffs"] < FIRST_HARVEST[0].by_generator["git_diffs"]
    # it really was interrupted: the restarted evaluator evaluated the same checkpoint again
    assert stack.log_text("evaluator").count("evaluating checkpoint") == before + 2


async def test_trainer_killed_mid_training(stack: Stack, repo: git.Repo) -> None:
    commit_module(repo, "delta", "fix: delta router ignored upper-case names")
    before, kill_trainer = _crash_when(stack, "trainer", "training ")
    outcome = await _cycle(stack, repo, kill_trainer)
    assert outcome.decision in ("promoted", "rejected"), _diagnose(stack, outcome)
    counts = _count(outcome)
    assert counts[CheckpointReady] == 1 and counts[EvalCompleted] == 1
    assert counts[ModelPromoted] + counts[ModelRejected] == 1
    assert stack.log_text("trainer").count("training ") >= before + 2


async def test_malformed_event_is_dead_lettered_and_service_survives(stack: Stack) -> None:
    bus = await Bus.connect(stack.url, "test-bad", attempts=5, auth=stack.auth("admin"))
    try:
        sub = await bus.js.subscribe(Subject.DLQ.value, ordered_consumer=True)
        await bus.js.publish(Subject.CHECKPOINT_READY.value, b'{"cycle_id": "bad", "checkpoint_id": 7}')
        # every service that takes checkpoint.ready dead-letters it: the evaluator, and the judge,
        # which follows a training in flight stage by stage
        by: dict[str, DeadLetter] = {}
        while set(by) != {"evaluator", "judge"}:
            dead = DeadLetter.model_validate_json((await sub.next_msg(timeout=20)).data)
            by[dead.service] = dead
        for dead in by.values():
            assert "undecodable" in dead.reason and '"checkpoint_id": 7' in dead.payload
        await sub.unsubscribe()
    finally:
        await bus.close()
    assert not stack.dead()


def test_service_waits_for_nats_instead_of_crashing(tmp_path: Path) -> None:
    port = free_port()
    env = dict(os.environ, OURO_NATS_URL=f"nats://127.0.0.1:{port}", OURO_DATA_DIR=str(tmp_path),
               PYTHONPATH=str(ROOT))
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen([sys.executable, "-m", "services.promoter"], cwd=ROOT, env=env,
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            time.sleep(4)
            assert proc.poll() is None, "the promoter exited while NATS was down"
            with EmbeddedNats(tmp_path / "nats", port=port):
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    log.seek(0)
                    text = log.read().decode()
                    if "promoter ready" in text:
                        break
                    time.sleep(0.2)
                assert "unreachable" in text and "retrying" in text, text
                assert "promoter ready" in text
        finally:
            proc.terminate()
            proc.wait(10)


# After the kill tests: by now there have been several promotions, so there is one to roll back to.
def _ouro(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, OURO_NATS_URL=stack.url, OURO_DATA_DIR=str(stack.data_dir), PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "ouro.cli", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


async def test_cli_status_history_rollback(stack: Stack) -> None:
    status = json.loads(_ouro(stack, "status", "--json").stdout)
    champion = status["champions"]["orchestrator"]["checkpoint_id"]
    assert status["consumers"]["trainer"]["pending"] == 0
    assert status["corpus"]["orchestrator"]["live"] > 0
    table = _ouro(stack, "status").stdout  # for a person: a table, and no "null" for a missing champion
    assert champion[:16] in table and "base model (no champion yet)" in table and "null" not in table
    assert "last: promoted" in table or "last: rejected" in table  # the orchestrator's latest decision
    history = _ouro(stack, "history", "--limit", "200").stdout
    assert "PROMOTED" in history and "harvest requested" in history
    short = next(line.split()[3] for line in history.splitlines() if "PROMOTED" in line)  # the 8-char id it prints
    assert "PROMOTED" in _ouro(stack, "history", "--cycle", short).stdout
    nothing = _ouro(stack, "history", "--cycle", "zzzzzzzz")
    assert nothing.returncode == 2 and "no events of cycle 'zzzzzzzz'" in nothing.stderr
    assert await _archived(stack), "the kill tests' cycles should have replaced the first champion"
    done = _ouro(stack, "rollback", "--specialist", "orchestrator")
    assert done.returncode == 0, done.stderr
    restored = json.loads(done.stdout)["champion"]
    assert restored != champion
    assert json.loads(_ouro(stack, "status", "--json").stdout)["champions"]["orchestrator"]["checkpoint_id"] == restored
    # The promoter saw the rollback and counted it where Prometheus scrapes.
    deadline = time.monotonic() + 10
    while 'ouro_rollbacks_total{specialist="orchestrator"} 1.0' not in httpx.get(stack.metrics_url).text:
        assert time.monotonic() < deadline, "the promoter did not count the rollback"
        await asyncio.sleep(0.2)


async def _archived(stack: Stack) -> list[object]:
    bus = await Bus.connect(stack.url, "test-archive", attempts=5, auth=stack.auth("operator"))
    try:
        return await Registry(await bus.kv(REGISTRY_BUCKET)).archived("orchestrator")
    finally:
        await bus.close()
