"""Which adapter serves each specialist now, and how many requests each loaded adapter still has.

    table = AdapterTable(LoraClient(backend_url), drain_timeout=120)
    await table.promote("coder", "coder-v7", Path("/data/serving/coder-v7"), "ckpt-7")
    with table.lease(table.current("coder")) as served:   # counted until the answer is sent
        ... forward the request to served.model ...

A swap never drops a request: the new adapter is loaded under its own versioned name first, then
new requests go to it, and the old one is unloaded only when the requests that leased it have
finished (or after `drain_timeout`, so one hung client cannot pin an adapter slot for ever).
Choosing an adapter and counting the request happen in one synchronous step on the event loop,
so no request can pick an adapter between "its count is zero" and "unload it".
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from shared import metrics

log = logging.getLogger("ouro.router.adapters")


class LoraBackend(Protocol):
    """The runtime-LoRA API of the serving backend (`shared.vllm.LoraClient`)."""

    async def load(self, name: str, adapter_dir: Path, *, exist_ok: bool = False) -> None: ...

    async def unload(self, name: str) -> None: ...


@dataclass(frozen=True)
class Served:
    """What answers a request: a specialist's adapter (`adapter` = its versioned name) or the base model."""

    specialist: str | None
    adapter: str | None  # None: the base model
    checkpoint: str | None = None

    def model(self, base_model: str) -> str:
        return self.adapter or base_model


class AdapterTable:
    def __init__(self, backend: LoraBackend, *, drain_timeout: float = 120.0) -> None:
        self.backend = backend
        self.drain_timeout = drain_timeout
        self._current: dict[str, Served] = {}
        self._inflight: dict[str, int] = {}  # adapter name → requests holding a lease on it
        self._retiring: dict[str, asyncio.Event] = {}  # set when the last lease is returned
        self._locks: dict[str, asyncio.Lock] = {}
        self._drains: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ reading (per request)

    def current(self, specialist: str) -> Served:
        return self._current.get(specialist) or Served(specialist, None)

    def by_adapter(self, name: str) -> Served | None:
        """A versioned adapter asked for by name: only while it is a current champion. One being
        drained takes no new requests, so its drain ends."""
        return next((s for s in self._current.values() if s.adapter == name), None)

    def inflight(self, name: str) -> int:
        return self._inflight.get(name, 0)

    def served(self) -> dict[str, Served]:
        return dict(self._current)

    @contextmanager
    def lease(self, served: Served) -> Iterator[Served]:
        """Count a request against its adapter until the block ends (the answer is fully sent)."""
        name = served.adapter
        if name is None:
            yield served
            return
        self._inflight[name] = self._inflight.get(name, 0) + 1
        try:
            yield served
        finally:
            self._inflight[name] -= 1
            if self._inflight[name] == 0:
                del self._inflight[name]
                if name in self._retiring:
                    self._retiring[name].set()

    # ------------------------------------------------------------------ swapping (per promotion)

    async def promote(self, specialist: str, adapter: str | None, adapter_dir: Path | None = None,
                      checkpoint: str | None = None) -> None:
        """Serve `specialist` from `adapter` (None: the base model) from now on; drain and unload the
        adapter it replaces in the background. A promotion and a rollback are both this."""
        lock = self._locks.setdefault(specialist, asyncio.Lock())
        async with lock:
            old = self._current.get(specialist)
            if old is not None and old.adapter == adapter:
                return
            if adapter is not None:
                if adapter_dir is None:
                    raise ValueError("`adapter_dir` is required to load an adapter")
                # exist_ok: a router restarted after loading it, or a promoter that loads it too
                await self.backend.load(adapter, adapter_dir, exist_ok=True)
                self._current[specialist] = Served(specialist, adapter, checkpoint)
            else:
                self._current.pop(specialist, None)
            log.info("%s now served by %s (was %s)", specialist, adapter or "the base model",
                     (old.adapter if old else None) or "the base model")
            if old is not None and old.adapter is not None:
                self._retiring[old.adapter] = asyncio.Event()
                if old.adapter not in self._inflight:
                    self._retiring[old.adapter].set()
                task = asyncio.create_task(self._drain(old.adapter))
                self._drains.add(task)
                task.add_done_callback(self._drains.discard)

    async def _drain(self, name: str) -> None:
        started = time.monotonic()
        outcome = "drained"
        try:
            await asyncio.wait_for(self._retiring[name].wait(), self.drain_timeout)
        except TimeoutError:
            outcome = "timeout"
            log.warning("%d request(s) still on %s after %.0f s: unloading it anyway", self.inflight(name), name,
                        self.drain_timeout)
        try:
            await self.backend.unload(name)
            log.info("unloaded %s after %.2f s of draining", name, time.monotonic() - started)
        except Exception as err:  # noqa: BLE001 - the new adapter serves: a stale slot is logged, not fatal
            outcome = "failed"
            log.warning("could not unload %s: %s", name, err)
        finally:
            metrics.ROUTER_UNLOADS.labels(outcome).inc()
            self._retiring.pop(name, None)

    async def drained(self) -> None:
        """Wait for every drain in progress (tests, shutdown)."""
        while self._drains:
            await asyncio.gather(*list(self._drains), return_exceptions=True)
