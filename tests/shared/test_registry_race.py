"""The registry's compare-and-set under real concurrency, on the real nats-server.

Guards the promise "two promoters racing cannot both win": champion updates that all read the
same revision and write at once end with exactly one winner; every other one raises
`RegistryConflict`, and the champion is the winner's record. A blind put instead of the CAS
lets every racer "win" and fails these tests.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.bus import Bus
from shared.events import ArtifactRef, utcnow
from shared.registry import ChampionRecord, Registry, RegistryConflict

SPECIALIST = "orchestrator"


def _record(cid: str) -> ChampionRecord:
    return ChampionRecord(
        checkpoint_id=cid, specialist=SPECIALIST,
        adapter=ArtifactRef(name=f"adapters/{cid}", sha256="0" * 64, size=1, kind="dir"),
        overall=0.8, categories={"tool_use": 0.8}, promoted_at=utcnow(),
    )


async def _current(registry: Registry) -> tuple[str, int]:
    entry = await registry.kv.get(f"champion.{SPECIALIST}")
    return ChampionRecord.model_validate_json(entry.value).checkpoint_id, entry.revision


async def _race(registry: Registry, cids: list[str], revision: int) -> list[int | BaseException]:
    return await asyncio.gather(*(registry.set_champion(_record(c), revision) for c in cids),
                                return_exceptions=True)


@pytest.mark.parametrize("racers", [2, 5])
async def test_concurrent_champion_updates_have_exactly_one_winner(bus: Bus, racers: int) -> None:
    registry = Registry(await bus.kv(f"reg-race-{uuid.uuid4().hex[:8]}"))
    # First promotion ever (revision 0: create), then a replacement of an existing champion (update).
    for round_ in ("first", "next"):
        revision = 0 if round_ == "first" else (await _current(registry))[1]
        cids = [f"{round_}-{i}" for i in range(racers)]
        results = await _race(registry, cids, revision)
        winners = [c for c, r in zip(cids, results, strict=True) if isinstance(r, int)]
        conflicts = [r for r in results if isinstance(r, RegistryConflict)]
        assert len(winners) == 1, results
        assert len(conflicts) == racers - 1, results
        champion, rev = await _current(registry)
        assert champion == winners[0]
        assert rev == results[cids.index(winners[0])]


async def test_a_stale_revision_never_overwrites_a_newer_champion(bus: Bus) -> None:
    registry = Registry(await bus.kv(f"reg-race-{uuid.uuid4().hex[:8]}"))
    first = await registry.set_champion(_record("a"), 0)
    second = await registry.set_champion(_record("b"), first)
    for stale in (0, first):
        with pytest.raises(RegistryConflict):
            await registry.set_champion(_record("late"), stale)
    assert await _current(registry) == ("b", second)


async def test_a_failed_write_that_is_not_a_race_is_not_a_conflict(bus: Bus) -> None:
    """A conflict means "somebody else won: re-read and decide again"; any other failure (here the
    server refusing a record over the bucket's value size) must surface as itself."""
    kv = await bus.js.create_key_value(bucket=f"reg-small-{uuid.uuid4().hex[:8]}", max_value_size=64)
    registry = Registry(kv)
    with pytest.raises(Exception) as failure:  # noqa: B017, PT011 - whatever the server says, but not a conflict
        await registry.set_champion(_record("too-big"), 0)
    assert not isinstance(failure.value, RegistryConflict), failure.value
