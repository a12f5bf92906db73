"""The bus adapter against a real nats-server: dedup, DLQ, redelivery, consumer updates."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from shared.bus import Bus, ConsumerSpec, Delivery, Poison
from shared.events import STREAM_NAME, DeadLetter, Event, HarvestRequested, Subject
from tests.busutil import events_of


def _req(cycle: str) -> HarvestRequested:
    return HarvestRequested(cycle_id=cycle, specialist="orchestrator")


async def test_publish_is_deduplicated_by_event_id(bus: Bus) -> None:
    cycle = uuid.uuid4().hex
    event = _req(cycle)
    await bus.publish(event)
    await bus.publish(event)  # a retry after a crash: same Nats-Msg-Id
    got = await events_of(bus, cycle, 2, subject=Subject.HARVEST_REQUESTED.value, timeout=2)
    assert [e.event_id for e in got] == [event.event_id]


async def test_malformed_event_goes_to_dlq_and_consumer_keeps_running(bus: Bus) -> None:
    cycle = uuid.uuid4().hex
    handled: list[Event] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        handled.append(event)

    stop = asyncio.Event()
    spec = ConsumerSpec(durable=f"t-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=5)
    await bus.ensure_consumer(spec)
    await bus.js.publish(Subject.HARVEST_REQUESTED.value, b'{"cycle_id": "x", "specialist": "nobody"}')
    await bus.js.publish(Subject.HARVEST_REQUESTED.value, b"not json at all")
    good = _req(cycle)
    await bus.publish(good)
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    dead = await events_of(bus, "unknown", 2, subject=Subject.DLQ.value)
    for _ in range(50):
        if any(e.event_id == good.event_id for e in handled):
            break
        await asyncio.sleep(0.1)
    stop.set()
    await task
    assert any(e.event_id == good.event_id for e in handled)
    assert len(dead) >= 2
    assert all(isinstance(d, DeadLetter) and "undecodable event" in d.reason for d in dead)
    assert any("not json at all" in d.payload for d in dead)


async def test_failing_handler_is_retried_then_dead_lettered(bus: Bus) -> None:
    cycle = uuid.uuid4().hex
    attempts: list[int] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        if event.cycle_id != cycle:
            return
        attempts.append(delivery.attempt)
        if len(attempts) < 2:
            raise RuntimeError("transient")
        raise Poison("this request can never succeed")

    stop = asyncio.Event()
    spec = ConsumerSpec(durable=f"r-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=5, retry_delay=0.1)
    await bus.publish(_req(cycle))
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    dead = await events_of(bus, cycle, 1, subject=Subject.DLQ.value)
    stop.set()
    await task
    assert attempts == [1, 2]
    assert "can never succeed" in dead[0].reason


async def test_ensure_consumer_updates_an_existing_durable(bus: Bus) -> None:
    name = f"u-{uuid.uuid4().hex[:8]}"
    await bus.ensure_consumer(ConsumerSpec(durable=name, subjects=(Subject.DLQ,), ack_wait=5, max_deliver=3))
    await bus.ensure_consumer(ConsumerSpec(durable=name, subjects=(Subject.DLQ,), ack_wait=9, max_deliver=7))
    info = await bus.js.consumer_info(STREAM_NAME, name)
    assert info.config.ack_wait == 9
    assert info.config.max_deliver == 7


async def test_a_message_whose_handler_keeps_dying_is_dead_lettered(bus: Bus) -> None:
    """A process killed on every delivery never acks, naks or dead-letters: JetStream's
    max-deliveries advisory is what tells the loop, and the bus turns it into a dead letter."""
    cycle = uuid.uuid4().hex
    spec = ConsumerSpec(durable=f"k-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=1, max_deliver=2)
    # A new durable starts at the beginning of the stream: clear earlier tests' requests from it.
    await bus.js.purge_stream(STREAM_NAME, subject=Subject.HARVEST_REQUESTED.value)
    await bus.ensure_consumer(spec)
    watcher = await bus.watch_give_ups(spec)
    await bus.publish(_req(cycle))
    dying = await bus.js.pull_subscribe_bind(durable=spec.durable, stream=STREAM_NAME)
    for _ in range(2):  # fetched, then the "process" dies: no ack, no nak
        msgs = await dying.fetch(1, timeout=5)
        assert msgs[0].metadata.num_delivered <= 2
    # The next process asks for work: JetStream would redeliver, but the limit is reached.
    with pytest.raises(Exception):  # noqa: B017 - nats' TimeoutError: nothing is handed out
        await dying.fetch(1, timeout=2.5)
    dead = await events_of(bus, cycle, 1, subject=Subject.DLQ.value, timeout=10)
    await watcher.unsubscribe()
    await dying.unsubscribe()
    assert dead and "gave up after 2 deliveries" in dead[0].reason
    assert '"specialist":"orchestrator"' in dead[0].payload
