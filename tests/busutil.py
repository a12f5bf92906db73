"""Reading a cycle's events back from the stream, for tests."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable

from nats.js.api import DeliverPolicy

from shared.bus import Bus
from shared.events import STREAM_NAME, Event, decode
from shared.service import ServiceTable, running


async def events_of(
    bus: Bus, cycle_id: str, want: int, *, subject: str = "ouro.>", timeout: float = 10,
    until: tuple[type[Event], ...] = (),
) -> list[Event]:
    """Up to `want` events of one cycle on `subject` (stopping after one of type `until`), read
    with an ephemeral ordered consumer."""
    got: list[Event] = []
    sub = await bus.js.subscribe(subject, ordered_consumer=True)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while len(got) < want and loop.time() < deadline:
            try:
                msg = await sub.next_msg(timeout=0.3)
            except Exception:  # noqa: BLE001 - nats' TimeoutError: keep polling until the deadline
                continue
            try:
                event = decode(msg.subject, msg.data)
            except ValueError:  # malformed events other tests planted on purpose
                continue
            if event.cycle_id == cycle_id:
                got.append(event)
                if isinstance(event, until):
                    break
    finally:
        await sub.unsubscribe()
    return got


async def fresh_bucket(bus: Bus, name: str) -> None:
    """Delete a KV bucket left by an earlier test, so a service under test starts from nothing."""
    try:
        await bus.js.delete_key_value(name)
    except Exception:  # noqa: BLE001 - no such bucket yet
        pass


@contextlib.asynccontextmanager
async def serving(bus: Bus, table: ServiceTable) -> AsyncIterator[None]:
    """Run a service's table (what `shared.service` does in its process) for a test, in-process.

    The stream is shared by the whole test session, so the test's durables are created to deliver
    only what is published from now on: a service under test never replays other tests' events."""
    for consumer in table.consumers:
        with contextlib.suppress(Exception):
            await bus.js.delete_consumer(STREAM_NAME, consumer.durable)
        await bus.ensure_consumer(consumer.spec, deliver=DeliverPolicy.NEW)
    try:
        async with running(bus, table):
            yield
    finally:
        for consumer in table.consumers:
            await bus.js.delete_consumer(STREAM_NAME, consumer.durable)


async def read_stream(bus: Bus, subject: str, keep: Callable[[Event], bool], *, idle: float = 0.5) -> list[Event]:
    """Every event on `subject` in the stream that `keep` accepts, read until `idle` s pass quietly."""
    got: list[Event] = []
    sub = await bus.js.subscribe(subject, ordered_consumer=True)
    try:
        while True:
            try:
                msg = await sub.next_msg(timeout=idle)
            except Exception:  # noqa: BLE001 - nats' TimeoutError: the stream is read to its end
                break
            try:
                event = decode(msg.subject, msg.data)
            except ValueError:  # malformed events other tests planted on purpose
                continue
            if keep(event):
                got.append(event)
    finally:
        await sub.unsubscribe()
    return got
