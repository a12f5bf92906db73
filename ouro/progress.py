"""Live progress of one cycle in the terminal, from the `Progress` messages on the bus.

On a terminal each stage (training, evaluating the candidate, the champion) gets a tqdm bar;
elsewhere (a pipe, a CI log) a plain line at most every `every` seconds and at the end of a
stage, so logs never hold carriage returns.
"""

from __future__ import annotations

import sys
import time
from typing import IO

from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from shared.bus import Bus
from shared.events import PROGRESS_SUBJECT, Progress


def progress_line(p: Progress) -> str:
    if p.stage == "train":
        extra = "".join([f", loss {p.loss:.3f}" if p.loss is not None else "",
                         f", {p.tokens_per_s:.0f} tok/s" if p.tokens_per_s else "",
                         f", ETA {p.eta_s:.0f} s" if p.eta_s is not None and p.step < p.total else ""])
        return f"trainer: step {p.step}/{p.total}{extra}"
    return f"evaluator: {p.what or 'prompts'} {p.step}/{p.total} prompts"


class ProgressView:
    def __init__(self, cycle_id: str, out: IO[str] | None = None, every: float = 10.0,
                 tty: bool | None = None) -> None:
        self.cycle_id, self.out, self.every = cycle_id, out or sys.stdout, every
        self.tty = self.out.isatty() if tty is None else tty
        self.seen: list[Progress] = []
        self._bars: dict[str, object] = {}
        self._last: dict[str, float] = {}
        self._started = time.monotonic()

    def show(self, p: Progress) -> None:
        if p.cycle_id != self.cycle_id:
            return
        self.seen.append(p)
        key = f"{p.stage}:{p.what}"
        if self.tty:
            from tqdm import tqdm

            bar = self._bars.get(key)
            if bar is None:
                label = "training" if p.stage == "train" else f"eval {p.what}"
                bar = self._bars[key] = tqdm(total=p.total, desc=label, file=self.out, leave=True, unit="step"
                                             if p.stage == "train" else "prompt")
            bar.n = p.step  # type: ignore[attr-defined]
            if p.loss is not None:
                bar.set_postfix(loss=f"{p.loss:.3f}")  # type: ignore[attr-defined]
            bar.refresh()  # type: ignore[attr-defined]
            if p.step >= p.total:
                bar.close()  # type: ignore[attr-defined]
            return
        now = time.monotonic()
        if p.step >= p.total or now - self._last.get(key, float("-inf")) >= self.every:
            self._last[key] = now
            print(f"[{now - self._started:7.1f}s] {progress_line(p)}", file=self.out, flush=True)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()  # type: ignore[attr-defined]


async def follow(bus: Bus, view: ProgressView) -> Subscription:
    """Subscribe `view` to the live progress of its cycle (unsubscribe when the cycle is decided)."""

    async def on_msg(msg: Msg) -> None:
        try:
            view.show(Progress.model_validate_json(msg.data))
        except ValueError:
            pass  # a producer of a newer schema: progress is advisory

    return await bus.nc.subscribe(PROGRESS_SUBJECT, cb=on_msg)
