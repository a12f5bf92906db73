"""The promoter's bus adapter against a real nats-server: CAS promotion, rejection feedback, idempotence."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from services.promoter.service import setup
from services.promoter.settings import PromoterSettings
from shared.bus import Bus
from shared.events import (
    ArtifactRef,
    EvalCompleted,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
    Subject,
    TrainMetrics,
    new_id,
    utcnow,
)
from shared.registry import REGISTRY_BUCKET, ChampionRecord, CheckpointRecord, Registry
from tests.busutil import events_of, fresh_bucket, serving


async def _register(registry: Registry, cid: str) -> None:
    await registry.put_checkpoint(CheckpointRecord(
        checkpoint_id=cid, specialist="reasoner",
        adapter=ArtifactRef(name=f"adapters/{cid}", sha256="0" * 64, size=1, kind="dir"),
        base_model="tiny", dataset_id="d", created_at=utcnow(),
        metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1, train_loss=1, tokens=1,
                             duration_s=1),
    ))


def _eval(cycle: str, cid: str, overall: float, champion_id: str | None, champion_overall: float,
          **scores: float) -> EvalCompleted:
    cats = {"reasoning": overall, "math": overall, "non_reasoning": overall} | scores
    return EvalCompleted(
        cycle_id=cycle, specialist="reasoner", checkpoint_id=cid, suite="reasoner", prompts=6,
        candidate=cats, candidate_overall=overall, champion_id=champion_id,
        champion={k: champion_overall for k in cats}, champion_overall=champion_overall,
    )


@pytest.fixture
async def promoter(bus: Bus):
    # The promoter shares the registry with other tests' specialists: start from a clean bucket.
    await fresh_bucket(bus, REGISTRY_BUCKET)
    # a category floor, so that a rejection has a category to send back (the shipped floor is 0)
    async with serving(bus, await setup(bus, settings=PromoterSettings(ack_wait=5, min_category=0.3))):
        yield Registry(await bus.kv(REGISTRY_BUCKET))


async def test_promotes_then_rejects_worse_and_feeds_back(bus: Bus, promoter: Registry) -> None:
    registry = promoter
    first, second = new_id(), new_id()
    await _register(registry, first)
    await _register(registry, second)

    c1 = uuid.uuid4().hex
    await bus.publish(_eval(c1, first, 0.8, None, 0.2))
    events = await events_of(bus, c1, 2, timeout=5)
    assert [type(e) for e in events] == [EvalCompleted, ModelPromoted]
    champ, _ = await registry.champion("reasoner")
    assert champ is not None and champ.checkpoint_id == first

    c2 = uuid.uuid4().hex
    await bus.publish(_eval(c2, second, 0.75, first, 0.8, non_reasoning=0.2))
    events = await events_of(bus, c2, 3)
    rejected = [e for e in events if isinstance(e, ModelRejected)]
    feedback = [e for e in events if isinstance(e, HarvestRequested)]
    assert len(rejected) == 1 and any("does not beat the champion" in r for r in rejected[0].reasons)
    # the feedback names only the category under its floor, not those merely under the champion
    assert feedback and feedback[0].reason == "feedback" and feedback[0].weak_categories == ("non_reasoning",)
    champ, _ = await registry.champion("reasoner")
    assert champ is not None and champ.checkpoint_id == first  # a worse model is never promoted

    # A redelivery (or a replay) of the same evaluation decides nothing new.
    await bus.publish(_eval(c1, first, 0.8, None, 0.2).model_copy(update={"event_id": new_id()}))
    await asyncio.sleep(1.5)
    assert len(await registry.archived("reasoner")) == 0
    decided = [e for e in await events_of(bus, c1, 10, timeout=2) if isinstance(e, ModelPromoted)]
    assert len(decided) == 1


async def test_stale_comparison_is_not_promoted(bus: Bus, promoter: Registry) -> None:
    registry = promoter
    a, b = new_id(), new_id()
    await _register(registry, a)
    await _register(registry, b)
    ca = uuid.uuid4().hex
    await bus.publish(_eval(ca, a, 0.9, None, 0.1))
    await events_of(bus, ca, 2, timeout=5)
    cb = uuid.uuid4().hex  # evaluated against the base model, but `a` is champion now
    await bus.publish(_eval(cb, b, 0.95, None, 0.1))
    events = await events_of(bus, cb, 2, timeout=5)
    assert isinstance(events[-1], ModelRejected)
    assert "champion changed" in events[-1].reasons[0]


def test_subjects_are_distinct() -> None:
    # A StrEnum name given an existing value silently becomes an alias (iterating `Subject` skips
    # it), so count the names: two names on one subject would cross two event types on the bus.
    names = Subject.__members__
    assert len({s.value for s in names.values()}) == len(names), sorted(names)


async def test_a_promotion_interrupted_after_the_registry_write_is_finished_not_rejected(
    bus: Bus, promoter: Registry
) -> None:
    registry = promoter
    cid = new_id()
    await _register(registry, cid)
    checkpoint = await registry.checkpoint(cid)
    # What a promoter killed between the CAS and recording its decision leaves behind.
    await registry.set_champion(ChampionRecord(
        checkpoint_id=cid, specialist="reasoner", adapter=checkpoint.adapter, overall=0.9,
        categories={"reasoning": 0.9}, promoted_at=utcnow()), 0)
    cycle = uuid.uuid4().hex
    await bus.publish(_eval(cycle, cid, 0.9, None, 0.1))  # the redelivery
    events = await events_of(bus, cycle, 3, timeout=5)
    assert isinstance(events[1], ModelPromoted) and "resumed" in events[1].reasons[-1]
    assert not any(isinstance(e, (ModelRejected, HarvestRequested)) for e in events)
    champ, _ = await registry.champion("reasoner")
    assert champ.checkpoint_id == cid and await registry.archived("reasoner") == []
