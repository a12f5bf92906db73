"""Firing a schedule slot exactly once, with its state on the bus.

The last slot fired is a KV value changed only by compare-and-set: two schedulers (a restart, a
second replica) that see the same slot both try to claim it and exactly one wins. A first start
records the current slot without firing it (nothing was missed); after downtime the latest missed
slot fires once.
"""

from __future__ import annotations

from datetime import datetime

from nats.js.errors import KeyNotFoundError, KeyWrongLastSequenceError

from shared.registry import Registry


async def claim_slot(state: Registry, name: str, slot: datetime) -> bool:
    """True when this caller fired `slot` of schedule `name` (and nobody else did or will)."""
    key = f"schedule.{name}"
    try:
        entry = await state.kv.get(key)
    except KeyNotFoundError:
        entry = None
    if entry is None or not entry.value:
        try:
            await state.kv.create(key, slot.isoformat().encode())
        except Exception:  # noqa: BLE001 - created by a racing scheduler: it recorded the slot
            pass
        return False
    if datetime.fromisoformat(entry.value.decode()) >= slot:
        return False
    try:
        await state.kv.update(key, slot.isoformat().encode(), last=entry.revision)
    except KeyWrongLastSequenceError:
        return False
    except Exception as err:  # nats-py reports a lost CAS as an APIError on some versions
        if "wrong last sequence" in str(err):
            return False
        raise
    return True
