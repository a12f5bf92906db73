"""Damage a stored artifact in place, as a bad disk or an attacker with write access would."""

from __future__ import annotations

from shared.bus import Bus
from shared.store import ARTIFACT_BUCKET


async def flip_a_byte(bus: Bus, name: str) -> None:
    """Rewrite object `name` of the artifact store with one byte in its middle inverted: same
    name, same size, so only the SHA-256 its reference carries can tell."""
    store = await bus.object_store(ARTIFACT_BUCKET)
    data = bytearray((await store.get(name)).data)
    data[len(data) // 2] ^= 0xFF
    await store.put(name, bytes(data))
