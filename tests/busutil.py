"""Reading a cycle's events back from the stream, for tests."""

from __future__ import annotations

import asyncio

from shared.bus import Bus
from shared.events import Event, decode


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
