"""The training worker's progress: a transformers `TrainerCallback` that writes one line per
report to the worker's stdout (`progress {json}`), which the trainer service relays to the bus.

At most one line every `every` seconds, and always the last step, so a 10 000-step run does not
flood the pipe or the bus. (transformers is imported in the factory: the service only parses.)
"""

from __future__ import annotations

import json
import time
from typing import IO, Any

PREFIX = "progress "


def progress_callback(out: IO[str], every: float = 2.0) -> Any:  # noqa: ANN401 - a TrainerCallback
    from transformers import TrainerCallback

    class ProgressLines(TrainerCallback):
        def __init__(self) -> None:
            self._started = time.monotonic()
            self._last = float("-inf")
            self._sent = -1
            self._loss: float | None = None  # the last step's; the end-of-training log carries none

        def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:  # noqa: ANN401
            self._started = time.monotonic()

        def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None,  # noqa: ANN401
                   **kwargs: Any) -> None:  # noqa: ANN401
            step, total = int(state.global_step), int(state.max_steps)
            if logs and "loss" in logs:
                self._loss = float(logs["loss"])
            now = time.monotonic()
            if step == self._sent or (now - self._last < every and step < total):
                return  # throttled, or the end-of-training log repeating the last step
            self._last, self._sent = now, step
            elapsed = now - self._started
            tokens = int(getattr(state, "num_input_tokens_seen", 0) or 0)
            report = {
                "step": step, "total": total, "loss": self._loss,
                "tokens_per_s": round(tokens / elapsed, 1) if tokens and elapsed > 0 else None,
                "eta_s": round(elapsed / step * (total - step), 1) if step else None,
            }
            out.write(PREFIX + json.dumps(report) + "\n")
            out.flush()

    return ProgressLines()


def parse(line: str) -> dict | None:
    """The report in a worker stdout line, or None for any other line."""
    if not line.startswith(PREFIX):
        return None
    try:
        return json.loads(line[len(PREFIX):])
    except ValueError:
        return None
