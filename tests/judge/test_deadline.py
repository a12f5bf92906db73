"""A training whose trainer never answers: the cycle is re-run once from its last completed stage
(the same dataset.ready under a new cycle id), then marked failed with the reason, and no longer
blocks the next training. The judge runs in-process on the real nats-server; no trainer runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from ouro.lineage import corpus_status
from services.judge.curator import InFlight
from services.judge.service import JUDGE_BUCKET, setup
from services.judge.settings import JudgeSettings
from shared.bus import Bus
from shared.events import CheckpointReady, DatasetReady, TrainMetrics, derived_id
from shared.registry import Registry
from shared.settings import CommonSettings
from tests.busutil import events_of, fresh_bucket, serving
from tests.judge.test_service import _cycle, _examples

DEADLINE_S = 2.0


@pytest.fixture
async def judge(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    await fresh_bucket(bus, JUDGE_BUCKET)
    common = CommonSettings(base_model=str(tiny_model_dir), data_dir=tmp_path / "data")
    settings = JudgeSettings(ack_wait=5, coherence=False, training_deadline_s=DEADLINE_S, schedule_tick_s=0.2)
    async with serving(bus, await setup(bus, common, settings)):
        yield Registry(await bus.kv(JUDGE_BUCKET))


async def _wait_for(predicate, timeout: float = 20.0) -> None:  # noqa: ANN001
    deadline = asyncio.get_running_loop().time() + timeout
    while not await predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_no_decision_reruns_once_then_fails(bus: Bus, judge: Registry) -> None:
    state = judge
    cycle = await _cycle(bus, _examples())
    first = (await events_of(bus, cycle, 10, timeout=60, until=(DatasetReady,)))[-1]
    assert isinstance(first, DatasetReady)
    status = await corpus_status(bus, "orchestrator")  # what `ouro status` shows meanwhile
    assert status["training"]["cycle_id"] == cycle and status["training"]["stage"] == "the trainer is training"

    # past the deadline: the same dataset.ready again, under the re-run's cycle id
    rerun_id = derived_id("rerun", cycle)
    again = (await events_of(bus, rerun_id, 1, timeout=20, until=(DatasetReady,)))[-1]
    assert isinstance(again, DatasetReady) and again.dataset_id == first.dataset_id and again.ref == first.ref
    running = InFlight.model_validate_json(await state.marked("training", "orchestrator"))
    assert running.cycle_id == rerun_id and running.attempts == 2

    # past the second deadline: failed, with the reason; nothing blocks the next training
    async def failed() -> bool:
        return await state.marked("failed", "orchestrator") is not None

    await _wait_for(failed)
    record = json.loads(await state.marked("failed", "orchestrator"))
    assert record["cycle_id"] == rerun_id and "no training result within" in record["reason"]
    assert await state.marked("training", "orchestrator") is None
    assert (await corpus_status(bus, "orchestrator"))["last_failed_cycle"]["cycle_id"] == rerun_id
    # and it was re-run once only: no third attempt
    assert not await events_of(bus, derived_id("rerun", rerun_id), 1, timeout=2 * DEADLINE_S)


@pytest.fixture
async def judge_slow_eval(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    """Training may take long; the evaluation after it gets DEADLINE_S."""
    await fresh_bucket(bus, JUDGE_BUCKET)
    common = CommonSettings(base_model=str(tiny_model_dir), data_dir=tmp_path / "data")
    settings = JudgeSettings(ack_wait=5, coherence=False, training_deadline_s=3600, evaluation_deadline_s=DEADLINE_S,
                             schedule_tick_s=0.2)
    async with serving(bus, await setup(bus, common, settings)):
        yield Registry(await bus.kv(JUDGE_BUCKET))


async def test_an_evaluation_that_never_answers_is_caught_by_its_own_deadline(
        bus: Bus, judge_slow_eval: Registry, tiny_model_dir: Path) -> None:
    state = judge_slow_eval
    cycle = await _cycle(bus, _examples())
    first = (await events_of(bus, cycle, 10, timeout=60, until=(DatasetReady,)))[-1]
    assert isinstance(first, DatasetReady)
    await asyncio.sleep(2 * DEADLINE_S)  # well within the training's hour: nothing happens
    assert InFlight.model_validate_json(await state.marked("training", "orchestrator")).attempts == 1
    # the trainer answers; the evaluator never does
    await bus.publish(CheckpointReady(
        cycle_id=cycle, specialist="orchestrator", checkpoint_id="ck-" + cycle[:8], dataset_id=first.dataset_id,
        adapter=first.ref, base_model=str(tiny_model_dir),
        metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1, train_loss=1, tokens=1,
                             duration_s=1)))

    async def evaluating() -> bool:
        return InFlight.model_validate_json(await state.marked("training", "orchestrator")).stage == "evaluation"

    await _wait_for(evaluating)
    again = (await events_of(bus, derived_id("rerun", cycle), 1, timeout=20, until=(DatasetReady,)))[-1]
    assert isinstance(again, DatasetReady) and again.dataset_id == first.dataset_id

    async def failed() -> bool:
        return await state.marked("failed", "orchestrator") is not None

    # the re-run waits on the trainer again (its hour), so it is not failed by the evaluation's deadline
    await asyncio.sleep(2 * DEADLINE_S)
    assert not await failed()
    running = InFlight.model_validate_json(await state.marked("training", "orchestrator"))
    assert running.stage == "training" and running.attempts == 2
