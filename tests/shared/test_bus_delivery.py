"""What the bus promises about one delivery, on the real nats-server: a handled event is acked
once and never comes back; a handler that keeps working keeps its message (heartbeats), even with
a second worker waiting on the same durable; a failure is retried with exponential backoff; a
verdict (poison, undecodable, out of attempts) settles the message for good."""

from __future__ import annotations

import asyncio
import time
import uuid

from shared.bus import Bus, ConsumerSpec, Delivery, Poison
from shared.events import STREAM_NAME, Event, HarvestRequested, Subject
from tests.busutil import events_of, read_stream


def _req(cycle: str) -> HarvestRequested:
    return HarvestRequested(cycle_id=cycle, specialist="orchestrator")


async def _fresh(bus: Bus) -> None:
    """New durables start at the beginning of the stream: clear earlier tests' requests."""
    await bus.js.purge_stream(STREAM_NAME, subject=Subject.HARVEST_REQUESTED.value)


async def _until(check, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not check() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


async def test_a_handled_event_is_acked_and_never_redelivered(bus: Bus) -> None:
    await _fresh(bus)
    cycle = uuid.uuid4().hex
    seen: list[int] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        seen.append(delivery.attempt)

    spec = ConsumerSpec(durable=f"a-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=1)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    await bus.publish(_req(cycle))
    await _until(lambda: seen, 10)
    await asyncio.sleep(2.5)  # well past ack_wait
    stop.set()
    await task
    assert seen == [1]
    info = await bus.js.consumer_info(STREAM_NAME, spec.durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
    # the delivery's heartbeat stopped with it: no task keeps beating for a settled message
    beating = [t for t in asyncio.all_tasks() if "_heartbeat" in t.get_coro().__qualname__ and not t.done()]
    assert beating == []


async def test_a_long_handler_keeps_its_message_from_a_second_worker(bus: Bus) -> None:
    await _fresh(bus)
    cycle = uuid.uuid4().hex
    seen: list[tuple[str, int]] = []

    def worker(name: str):  # noqa: ANN202
        async def handler(event: Event, delivery: Delivery) -> None:
            seen.append((name, delivery.attempt))
            await asyncio.sleep(4.0)  # four ack_waits of work

        return handler

    spec = ConsumerSpec(durable=f"h-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=1,
                        max_ack_pending=2)
    stop = asyncio.Event()
    await bus.ensure_consumer(spec)
    tasks = [asyncio.create_task(bus.consume(spec, worker(n), stop)) for n in ("w1", "w2")]
    await bus.publish(_req(cycle))
    await _until(lambda: seen, 10)
    await asyncio.sleep(5.0)
    stop.set()
    await asyncio.gather(*tasks)
    assert len(seen) == 1 and seen[0][1] == 1, seen


async def test_failures_are_retried_with_exponential_backoff(bus: Bus) -> None:
    await _fresh(bus)
    cycle = uuid.uuid4().hex
    at: list[float] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        at.append(time.monotonic())
        if len(at) < 4:
            raise RuntimeError("dependency down")

    spec = ConsumerSpec(durable=f"b-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=10,
                        retry_delay=0.4, max_retry_delay=60)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    await bus.publish(_req(cycle))
    await _until(lambda: len(at) >= 4, 15)
    stop.set()
    await task
    gaps = [b - a for a, b in zip(at, at[1:], strict=False)]
    assert len(at) == 4, gaps
    # 0.4, 0.8, 1.6 s: retry_delay doubling per attempt
    assert 0.35 <= gaps[0] < 0.75 and 0.75 <= gaps[1] < 1.3 and 1.5 <= gaps[2] < 2.6, gaps


async def test_out_of_attempts_is_dead_lettered_by_the_bus_and_settled(bus: Bus) -> None:
    await _fresh(bus)
    cycle = uuid.uuid4().hex
    seen: list[int] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        seen.append(delivery.attempt)
        raise RuntimeError("always broken")

    spec = ConsumerSpec(durable=f"d-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=1,
                        max_deliver=2, retry_delay=0.1)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    await bus.publish(_req(cycle))
    dead = await events_of(bus, cycle, 1, subject=Subject.DLQ.value, timeout=10)
    await asyncio.sleep(2.5)  # past ack_wait: an unsettled message would be given up on (a second letter)
    stop.set()
    await task
    assert seen == [1, 2]
    assert dead and "failed 2 times" in dead[0].reason and "always broken" in dead[0].reason
    assert dead[0].deliveries == 2
    letters = await read_stream(bus, Subject.DLQ.value, lambda e: e.cycle_id == cycle)
    assert len(letters) == 1, [d.reason for d in letters]


async def test_poison_is_dead_lettered_once_and_never_retried(bus: Bus) -> None:
    await _fresh(bus)
    cycle = uuid.uuid4().hex
    seen: list[int] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        seen.append(delivery.attempt)
        raise Poison("can never succeed")

    spec = ConsumerSpec(durable=f"p-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=1)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    await bus.publish(_req(cycle))
    dead = await events_of(bus, cycle, 1, subject=Subject.DLQ.value, timeout=10)
    await asyncio.sleep(2.0)
    stop.set()
    await task
    assert seen == [1]
    assert [d.reason for d in dead] == ["can never succeed"]
    assert dead[0].original_subject == Subject.HARVEST_REQUESTED.value and cycle in dead[0].payload


async def test_an_undecodable_event_is_dead_lettered_and_settled(bus: Bus) -> None:
    await _fresh(bus)
    cycle = uuid.uuid4().hex
    seen: list[Event] = []

    async def handler(event: Event, delivery: Delivery) -> None:
        seen.append(event)

    spec = ConsumerSpec(durable=f"u-{cycle[:8]}", subjects=(Subject.HARVEST_REQUESTED,), ack_wait=1)
    stop = asyncio.Event()
    task = asyncio.create_task(bus.consume(spec, handler, stop))
    await bus.js.publish(Subject.HARVEST_REQUESTED.value, f"garbage {cycle}".encode())
    await asyncio.sleep(2.5)
    stop.set()
    await task
    assert seen == []
    info = await bus.js.consumer_info(STREAM_NAME, spec.durable)
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
