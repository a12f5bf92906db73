"""`ouro rollback` never "restores" the champion that is already current."""

from __future__ import annotations

import uuid

import pytest

from shared.bus import Bus
from shared.events import ArtifactRef, utcnow
from shared.registry import ChampionRecord, Registry

SPECIALIST = "orchestrator"


def _record(cid: str) -> ChampionRecord:
    return ChampionRecord(
        checkpoint_id=cid, specialist=SPECIALIST,
        adapter=ArtifactRef(name=f"adapters/{cid}", sha256="0" * 64, size=1, kind="dir"),
        overall=0.8, categories={"tool_use": 0.8}, promoted_at=utcnow(),
    )


async def test_rolling_back_to_the_current_champion_by_name_is_refused(bus: Bus) -> None:
    registry = Registry(await bus.kv(f"reg-rb-{uuid.uuid4().hex[:8]}"))
    rev = await registry.set_champion(_record("a"), 0)
    await registry.set_champion(_record("b"), rev)
    assert (await registry.rollback(SPECIALIST)).checkpoint_id == "a"  # a is champion again, and archived
    with pytest.raises(LookupError, match="archived checkpoint a"):
        await registry.rollback(SPECIALIST, "a")
    assert (await registry.rollback(SPECIALIST, "b")).checkpoint_id == "b"
