"""Live progress on the bus: the trainer's steps and the evaluator's prompts, for `ouro cycle --wait`.

    await publish_progress(bus, Progress(...))          # plain NATS on PROGRESS_SUBJECT, never stored
    limiter = Throttle(every=2.0); limiter.due(final)   # at most one message per `every` seconds

Progress is advisory: publishing it never fails the stage it reports on.
"""

from __future__ import annotations

import contextlib
import time

from shared.bus import Bus
from shared.events import PROGRESS_SUBJECT, Progress


class Throttle:
    """True at most once per `every` seconds, and always for the last report of a stage."""

    def __init__(self, every: float = 2.0) -> None:
        self.every = every
        self._last = float("-inf")

    def due(self, final: bool = False) -> bool:
        now = time.monotonic()
        if final or now - self._last >= self.every:
            self._last = now
            return True
        return False


async def publish_progress(bus: Bus, progress: Progress) -> None:
    with contextlib.suppress(Exception):  # a watcher's nicety must not fail a training or an evaluation
        await bus.nc.publish(PROGRESS_SUBJECT, progress.model_dump_json().encode())
