"""A schedule slot fires exactly once: across two schedulers racing, across a restart of the
scheduler, and across a restart of nats-server (the state is in JetStream KV, on disk)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from shared.bus import Bus
from shared.cron import Cron
from shared.nats_server import EmbeddedNats, free_port
from shared.registry import Registry
from shared.schedule import claim_slot

SUNDAY_3AM = Cron.parse("0 3 * * 0")


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


async def _state(url: str) -> tuple[Bus, Registry]:
    bus = await Bus.connect(url, "test-schedule", attempts=10)
    return bus, Registry(await bus.kv("test-schedule"))


async def test_a_slot_fires_once_across_races_and_restarts(tmp_path: Path) -> None:
    port = free_port()
    with EmbeddedNats(tmp_path / "store", port=port, log_file=tmp_path / "nats.log") as server:
        bus, state = await _state(server.url)
        slot = SUNDAY_3AM.previous(at("2026-11-30T12:00"))  # Sunday 2026-11-29 03:00
        # first start: the current slot is recorded, not fired (nothing was missed)
        assert await claim_slot(state, "train.coder", slot) is False
        # a week later: two schedulers see the new slot at once; exactly one fires it
        nxt = SUNDAY_3AM.previous(at("2026-12-07T09:00"))
        won = await asyncio.gather(*(claim_slot(state, "train.coder", nxt) for _ in range(5)))
        assert won.count(True) == 1
        await bus.close()
        # the scheduler restarts: the slot it fired is not fired again
        bus, state = await _state(server.url)
        assert await claim_slot(state, "train.coder", nxt) is False
        await bus.close()

    # nats-server restarts on the same store; the loop was down for three weeks: the latest
    # missed slot fires once, not once per missed week
    with EmbeddedNats(tmp_path / "store", port=port, log_file=tmp_path / "nats2.log") as server:
        bus, state = await _state(server.url)
        assert await claim_slot(state, "train.coder", nxt) is False
        missed = SUNDAY_3AM.previous(at("2026-12-29T10:00"))
        assert missed == at("2026-12-27T03:00")
        assert [await claim_slot(state, "train.coder", missed) for _ in range(3)] == [True, False, False]
        await bus.close()
