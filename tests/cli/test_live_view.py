"""`ouro up`'s live view on a real nats-server: a line per event (example batches folded into the
harvest summary) and the trainer's progress, as they are published."""

from __future__ import annotations

import asyncio
import io
import uuid

from ouro.live import LiveView
from shared.bus import Bus
from shared.events import Example, ExamplesHarvested, HarvestRequested, Progress, Provenance
from shared.nats_server import EmbeddedNats
from shared.progress import publish_progress


async def test_live_view_prints_events_and_progress(bus: Bus, nats_server: EmbeddedNats) -> None:
    out = io.StringIO()
    view = LiveView(nats_server.url, None, out=out, every=3600).start()
    cycle = uuid.uuid4().hex
    try:
        await asyncio.sleep(1.5)  # its subscriptions are in place
        await bus.publish(HarvestRequested(cycle_id=cycle, specialist="coder", reason="manual"))
        example = Example.build(specialist="coder", category="instruction", generator="t",
                                messages=[("user", "q"), ("assistant", "a")], provenance=Provenance(source="t"))
        await bus.publish(ExamplesHarvested(cycle_id=cycle, specialist="coder", batch_index=0, examples=(example,)))
        # events come through the stream, progress straight over core NATS: two paths with no order
        # between them, so the trainer reports once the view has shown the event, as in a real cycle
        for _ in range(100):
            if "harvest requested" in out.getvalue():
                break
            await asyncio.sleep(0.05)
        for step in (1, 2, 3, 4):
            await publish_progress(bus, Progress(cycle_id=cycle, specialist="coder", stage="train", step=step,
                                                 total=4, loss=1.0 / step))
        for _ in range(50):
            if "step 4/4" in out.getvalue():
                break
            await asyncio.sleep(0.1)
    finally:
        await asyncio.to_thread(view.stop)
    mine = [line for line in out.getvalue().splitlines() if f" {cycle[:8]} " in line]
    assert [line.split(" ", 2)[2] for line in mine] == [
        "harvest requested for coder (manual)",
        "trainer: step 1/4, loss 1.000",  # the first report of a stage, then throttled ...
        "trainer: step 4/4, loss 0.250",  # ... and always its last
    ], out.getvalue()
