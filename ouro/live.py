"""`ouro up`'s live view: what the loop is doing, as it does it, in plain lines.

    12:03:41 b6860896 judge: dataset 088b4663bb1b = corpus v1 snapshot of 6 (...)
    12:04:12 b6860896 trainer: step 3/6, loss 6.080, 283 tok/s, ETA 14 s

One line per event of every cycle (example batches are left to their harvest's summary line) and
the trainer's and evaluator's progress at most every `every` seconds per stage. It runs in a thread
with its own event loop, so the supervisor's loop in `ouro up` stays as simple as it is.
"""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import IO

from nats.js.api import DeliverPolicy

from shared.bus import Bus
from shared.events import PROGRESS_SUBJECT, ExamplesHarvested, Progress, decode
from shared.nats_auth import ClientAuth


def stamp() -> str:
    return time.strftime("%H:%M:%S")


class LiveView:
    def __init__(self, url: str, auth: ClientAuth | None, out: IO[str] | None = None, every: float = 10.0) -> None:
        self.url, self.auth, self.out, self.every = url, auth, out or sys.stdout, every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="ouro-live", daemon=True)
        self._last: dict[tuple[str, str, str], float] = {}

    def start(self) -> LiveView:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def say(self, cycle_id: str, text: str) -> None:
        print(f"{stamp()} {cycle_id[:8]} {text}", file=self.out, flush=True)

    def progress(self, p: Progress) -> None:
        from ouro.progress import progress_line

        key = (p.cycle_id, p.stage, p.what)
        now = time.monotonic()
        if p.step >= p.total or p.step == 0 or now - self._last.get(key, float("-inf")) >= self.every:
            self._last[key] = now
            self.say(p.cycle_id, progress_line(p))

    async def _main(self) -> None:
        from ouro.cycle import describe

        try:
            bus = await Bus.connect(self.url, "ouro-up-view", attempts=5, auth=self.auth)
        except ConnectionError as err:
            print(f"live view off: {err}", file=sys.stderr, flush=True)
            return
        try:
            events = await bus.js.subscribe("ouro.>", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)

            async def on_progress(msg) -> None:  # noqa: ANN001 - a nats Msg
                try:
                    self.progress(Progress.model_validate_json(msg.data))
                except ValueError:
                    pass  # progress is advisory

            live = await bus.nc.subscribe(PROGRESS_SUBJECT, cb=on_progress)
            while not self._stop.is_set():
                try:
                    msg = await events.next_msg(timeout=0.5)
                except Exception:  # noqa: BLE001 - nats' TimeoutError: nothing new
                    continue
                try:
                    event = decode(msg.subject, msg.data)
                except ValueError:
                    continue
                if not isinstance(event, ExamplesHarvested):
                    self.say(event.cycle_id, describe(event))
            await live.unsubscribe()
            await events.unsubscribe()
        finally:
            await bus.close()
