"""Run one service: connect (with retry), serve /metrics, consume until SIGTERM, then drain.

Each service's `setup()` returns its `ServiceTable` (which durable takes which event type with
which handler, plus any background watchers); everything else — starting the consumers and the
background tasks, stopping them, shutdown, logging and reconnection — lives here, the same for
all five.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

from shared import metrics
from shared.bus import Bus, Consumer
from shared.nats_auth import client_auth
from shared.settings import CommonSettings
from shared.specialists import specialists

log = logging.getLogger("ouro.service")


@dataclass
class ServiceTable:
    consumers: list[Consumer]
    # long-running coroutines (e.g. a registry watcher): started with the consumers, cancelled at stop
    background: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


Setup = Callable[[Bus], Awaitable[ServiceTable]]


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("OURO_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("nats").setLevel(logging.WARNING)
    from shared.models import quiet_libraries

    quiet_libraries()  # clean log lines: no library progress bars, each library warning once


async def _background(name: str, make: Callable[[], Awaitable[None]]) -> None:
    try:
        await make()
    except asyncio.CancelledError:
        raise
    except Exception:  # noqa: BLE001 - a watcher's failure is logged, the consumers go on
        log.exception("background task %s of the service stopped", name)


@contextlib.asynccontextmanager
async def running(bus: Bus, table: ServiceTable, stop: asyncio.Event | None = None) -> AsyncIterator[asyncio.Event]:
    """Consume with every row of `table` and run its background tasks until the block ends; then
    finish the message in hand, cancel the background tasks and wait for all of them."""
    stop = stop or asyncio.Event()
    consumers = [asyncio.create_task(bus.consume(c.spec, c.dispatch, stop)) for c in table.consumers]
    watchers = [asyncio.create_task(_background(getattr(b, "__name__", "task"), b)) for b in table.background]
    try:
        yield stop
    finally:
        stop.set()
        await asyncio.gather(*consumers, return_exceptions=True)
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)


async def run_service(name: str, settings: CommonSettings, setup: Setup) -> None:
    log = logging.getLogger(f"ouro.{name}")
    specialists()  # a broken specialist file stops the service at start, naming what is wrong
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics.serve_metrics(settings.metrics_port)
    bus = await Bus.connect(settings.nats_url, name, attempts=settings.connect_attempts, replicas=settings.replicas,
                            auth=client_auth(name, settings))
    table = await setup(bus)
    async with running(bus, table, stop):
        log.info("%s ready", name)
        await stop.wait()
        log.info("%s stopping: finishing the message in hand, then draining", name)
    await bus.close()


def main(name: str, settings: CommonSettings, setup: Setup) -> None:
    configure_logging()
    asyncio.run(run_service(name, settings, setup))
