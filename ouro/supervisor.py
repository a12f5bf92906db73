"""`ouro up`'s supervisor: a service that dies is started again, with backoff, and counted.

Compose and Kubernetes do this with restart policies and probes; on one machine `ouro up` is the
orchestrator. A service that keeps dying is restarted at most every `max_backoff` seconds (1, 2,
4 ... s after each death; the delay resets once it has stayed up for a minute). The restart
counts are written to `<data_dir>/supervisor.json`, which `ouro status` shows, and counted in
`ouro_service_restarts_total` (served by `ouro up --metrics-port`). Work a dead
service held is not lost: its unacked message is redelivered to the restarted process.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from ouro.stack import Stack
from shared import metrics

STABLE_S = 60.0


@dataclass
class _Watch:
    service: str
    restarts: int = 0
    backoff: float = 1.0
    due: float | None = None  # when the dead process is started again
    started: float = field(default_factory=time.monotonic)
    last_exit: int | None = None


class Supervisor:
    def __init__(self, stack: Stack, *, max_backoff: float = 30.0, state_file: Path | None = None) -> None:
        self.stack = stack
        self.max_backoff = max_backoff
        self.state_file = state_file or stack.data_dir / "supervisor.json"
        self.watches = {name: _Watch(service=name) for name in stack.procs}
        self._write()

    def tick(self, now: float | None = None) -> list[str]:
        """Check every process once; restart those whose backoff has passed. Returns the restarted."""
        now = time.monotonic() if now is None else now
        restarted = []
        for name, w in self.watches.items():
            proc = self.stack.procs.get(name)
            if proc is not None and proc.poll() is None:
                if now - w.started > STABLE_S:
                    w.backoff = 1.0
                continue
            if w.due is None:
                w.last_exit = proc.returncode if proc is not None else None
                w.due = now + w.backoff
                print(f"service {name} exited ({w.last_exit}); restarting in {w.backoff:.0f} s", file=sys.stderr,
                      flush=True)
                w.backoff = min(w.backoff * 2, self.max_backoff)
            elif now >= w.due:
                self.stack.spawn(name, w.service)
                w.restarts, w.due, w.started = w.restarts + 1, None, now
                metrics.SERVICE_RESTARTS.labels(name).inc()
                restarted.append(name)
                print(f"service {name} restarted (restart {w.restarts})", file=sys.stderr, flush=True)
        if restarted:
            self._write()
        return restarted

    def restarts(self) -> dict[str, int]:
        return {n: w.restarts for n, w in self.watches.items()}

    def _write(self) -> None:
        state = {n: {"restarts": w.restarts, "last_exit": w.last_exit} for n, w in self.watches.items()}
        self.state_file.write_text(json.dumps(state, indent=2))


def read_restarts(data_dir: Path) -> dict[str, object]:
    path = Path(data_dir) / "supervisor.json"
    return json.loads(path.read_text()) if path.exists() else {}
