"""A corrupted adapter is never evaluated: the evaluator checks the SHA-256 of the candidate it
fetches against the `checkpoint.ready` reference before loading it anywhere."""

from __future__ import annotations

import asyncio
import logging
import uuid
from pathlib import Path

from services.evaluator.backends import TransformersBackend
from services.evaluator.local_server import serve
from services.evaluator.service import setup
from services.evaluator.settings import EvaluatorSettings
from shared.bus import Bus
from shared.events import STREAM_NAME, CheckpointReady, EvalCompleted, Subject, TrainMetrics, new_id
from shared.registry import REGISTRY_BUCKET
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import events_of, fresh_bucket, serving
from tests.support.checkpoints import tiny_adapter
from tests.support.tamper import flip_a_byte


async def test_a_tampered_candidate_is_refused_before_evaluation(
    bus: Bus, tiny_model_dir: Path, tmp_path: Path
) -> None:
    # A stand-in for vLLM that would show any adapter loaded into it for the evaluation.
    server = serve(TransformersBackend(tiny_model_dir), model_name="base", base_model_dir=tiny_model_dir)
    await fresh_bucket(bus, REGISTRY_BUCKET)
    settings = EvaluatorSettings(ack_wait=5, suite="reasoner", max_new_tokens=4, endpoint=server.url,
                                 endpoint_base_model="base")
    table = await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)
    said: list[str] = []  # what the bus logs about failed deliveries
    handler = logging.Handler(logging.WARNING)
    handler.emit = lambda record: said.append(record.getMessage())  # type: ignore[method-assign]
    bus_log = logging.getLogger("ouro.bus")
    # an in-process `ouro` command earlier in the session quiets this logger (cli.main): hear it here.
    # setLevel, not `.level =`: the logger caches "is WARNING enabled?" answers, and only setLevel
    # clears that cache (with the attribute set, a cached "no" from the quiet phase silenced the log)
    level = bus_log.level
    bus_log.setLevel(logging.WARNING)
    bus_log.addHandler(handler)
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    cid, cycle = new_id(), uuid.uuid4().hex
    ref = await put_dir(store, f"adapters/test/{cid}", tiny_adapter(tiny_model_dir, tmp_path / "adapter"))
    await flip_a_byte(bus, ref.name)
    event = CheckpointReady(
        cycle_id=cycle, specialist="reasoner", checkpoint_id=cid, adapter=ref, base_model=str(tiny_model_dir),
        dataset_id="d", metrics=TrainMetrics(method="lora", device="cpu", examples=1, steps=1, epochs=1,
                                             train_loss=1, tokens=1, duration_s=1),
    )
    # only this test's checkpoint in the stream: earlier tests' checkpoint events would be evaluated first
    await bus.js.purge_stream(STREAM_NAME, subject=Subject.CHECKPOINT_READY.value)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 180  # a wait, not a speed check: a loaded 2-core CI machine needed over 60 s
    try:
        async with serving(bus, table):
            await bus.publish(event)
            while not any(f"artifact {ref.name!r} is corrupt" in line for line in said):
                assert loop.time() < deadline, said
                assert not any(cid[:16] in a for a in server.adapters), "a corrupt candidate was loaded"
                await asyncio.sleep(0.05)
            assert not any(isinstance(e, EvalCompleted) for e in await events_of(bus, cycle, 2, timeout=3))
            assert not any(cid[:16] in a for a in server.adapters)
    finally:
        bus_log.removeHandler(handler)
        bus_log.setLevel(level)
        server.shutdown()
