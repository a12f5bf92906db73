"""The judge's bus adapter on a real nats-server: staged batches, one dataset per cycle, a
redelivery that rebuilds the same dataset, and nothing trained twice across cycles."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from services.judge.service import JUDGE_BUCKET, _exists, setup, staged_name
from services.judge.settings import JudgeSettings
from shared.bus import Bus
from shared.events import (
    CorpusUpdated,
    DatasetReady,
    DeadLetter,
    Example,
    ExamplesHarvested,
    HarvestCompleted,
    Provenance,
    Subject,
    decode,
)
from shared.registry import Registry
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET
from tests.busutil import events_of, fresh_bucket, serving

TOPICS = ["retries in the harvester", "the judge's dedup window", "LoRA rank for the coder", "NATS consumer acks",
          "watermarks per repository", "the promotion policy", "evaluation suites as data", "artifact checksums"]


def _examples() -> list[Example]:
    return [
        Example.build(
            specialist="orchestrator", category="architecture", generator="docs",
            messages=[("user", f"Explain {topic} in this system, briefly."),
                      ("assistant", f"Here is how {topic} works: each service handles it on its own, records "
                                    f"what it did in the registry, and acknowledges the message afterwards, "
                                    f"so a crash before that point means the work is redone ({i}).")],
            provenance=Provenance(source="docs/architecture.md"),
        )
        for i, topic in enumerate(TOPICS)
    ]


async def _cycle(bus: Bus, examples: list[Example], cycle: str | None = None) -> str:
    cycle = cycle or uuid.uuid4().hex
    halves = [examples[: len(examples) // 2], examples[len(examples) // 2:]]
    for i, batch in enumerate(halves):
        await bus.publish(ExamplesHarvested(cycle_id=cycle, specialist="orchestrator", batch_index=i,
                                            examples=tuple(batch)))
    await bus.publish(HarvestCompleted(cycle_id=cycle, specialist="orchestrator", batch_count=2,
                                       example_count=len(examples)))
    return cycle


@pytest.fixture
async def judge(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    await fresh_bucket(bus, JUDGE_BUCKET)
    common = CommonSettings(base_model=str(tiny_model_dir), data_dir=tmp_path / "data")
    async with serving(bus, await setup(bus, common, JudgeSettings(ack_wait=5, coherence=False))):
        yield Registry(await bus.kv(JUDGE_BUCKET))


async def test_dataset_redelivery_and_history(bus: Bus, judge: Registry) -> None:
    state = judge
    examples = _examples()
    cycle = await _cycle(bus, examples)
    events = await events_of(bus, cycle, 10, timeout=60, until=(DatasetReady, DeadLetter))
    ready = events[-1]
    assert isinstance(ready, DatasetReady), events
    assert ready.kept == len(examples) and {c: n for c, n in ready.mix.items() if n} == {"architecture": len(examples)}

    # The staged verdicts are cleaned up once the dataset is out.
    obj = await bus.object_store(ARTIFACT_BUCKET)
    for _ in range(50):
        names = [staged_name(cycle, i) for i in range(2)]
        if not [n for n in names if await _exists(obj, n)]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("staged batches were left behind")

    # A redelivery after the dedup window, when the published marker is gone too: the assembler
    # must rebuild the same corpus version and dataset from the history and corpus pinned for this
    # cycle, not find every example a duplicate of itself.
    # (Staged verdicts are deleted once the dataset is out; a crash before that leaves them
    # in place, so put them back the way the filter workers made them.)
    await state.kv.delete(f"done.announced.cycle.{cycle}")
    await _cycle(bus, examples, cycle)
    deadline = asyncio.get_running_loop().time() + 30
    while (again := await state.marked("announced", f"cycle.{cycle}")) is None:
        assert asyncio.get_running_loop().time() < deadline, "the redelivered harvest.completed was not assembled"
        await asyncio.sleep(0.2)
    rebuilt = next(decode(subject, data.encode()) for subject, data in json.loads(again)
                   if subject == Subject.DATASET_READY)
    assert (rebuilt.dataset_id, rebuilt.kept, rebuilt.corpus_version) == (ready.dataset_id, ready.kept,
                                                                          ready.corpus_version)

    # The next cycle with the same examples adds nothing to the corpus (every one a duplicate of
    # history), and still trains on everything learned so far: the corpus snapshot, replayed.
    later = await _cycle(bus, examples)
    events = await events_of(bus, later, 10, timeout=60, until=(DatasetReady, DeadLetter))
    update = next(e for e in events if isinstance(e, CorpusUpdated))
    replay = events[-1]
    assert update.added == 0 and update.live == len(examples) and update.training
    assert isinstance(replay, DatasetReady), events
    assert (replay.kept, replay.new, replay.replayed) == (len(examples), 0, len(examples))
