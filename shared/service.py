"""Run one service: connect (with retry), serve /metrics, consume until SIGTERM, then drain.

Each service's `__main__` builds its consumers and hands them here, so shutdown, logging and
reconnection behave the same in all five.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from collections.abc import Awaitable, Callable

from shared import metrics
from shared.bus import Bus, ConsumerSpec, Handler
from shared.settings import CommonSettings

Setup = Callable[[Bus], Awaitable[list[tuple[ConsumerSpec, Handler]]]]


def configure_logging() -> None:
    logging.basicConfig(
        level=os.environ.get("OURO_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    logging.getLogger("nats").setLevel(logging.WARNING)


async def run_service(name: str, settings: CommonSettings, setup: Setup) -> None:
    log = logging.getLogger(f"ouro.{name}")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    metrics.serve_metrics(settings.metrics_port)
    bus = await Bus.connect(settings.nats_url, name, attempts=settings.connect_attempts, replicas=settings.replicas)
    consumers = await setup(bus)
    tasks = [asyncio.create_task(bus.consume(spec, handler, stop)) for spec, handler in consumers]
    log.info("%s ready", name)
    await stop.wait()
    log.info("%s stopping: finishing the message in hand, then draining", name)
    await asyncio.gather(*tasks, return_exceptions=True)
    await bus.close()


def main(name: str, settings: CommonSettings, setup: Setup) -> None:
    configure_logging()
    asyncio.run(run_service(name, settings, setup))
