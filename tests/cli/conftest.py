"""One real training cycle with the tiny model, shared by the CLI tests that read its results.

From a judge-shaped dataset on: the trainer (its worker process), the evaluator and the promoter
run in-process on the session's nats-server, so `ouro runs`, `show` and `artifacts get` read
what the services really recorded, and the live progress they sent is captured on the way.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from shared.bus import Bus
from shared.events import (
    PROGRESS_SUBJECT,
    DatasetReady,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
    Progress,
)
from shared.nats_server import EmbeddedNats
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir
from tests.busutil import events_of, serving

SPECIALIST = "reasoner"
STEPS = 3


@dataclass
class Cycle:
    url: str
    cycle_id: str
    checkpoint_id: str
    dataset_name: str
    decision: str
    progress: list[Progress] = field(default_factory=list)


def write_dataset(out: Path, n: int = 8) -> Path:
    from datasets import Dataset

    rows = [{"id": f"ex-{i}", "category": "math", "generator": "test", "format": "chat",
             "messages": [{"role": "user", "content": f"What is {i} + {i}?"},
                          {"role": "assistant", "content": f"The answer is {2 * i}."}]} for i in range(n)]
    Dataset.from_list(rows).save_to_disk(str(out / "data"))
    (out / "report.json").write_text(json.dumps({"corpus": {"version": 1}}))
    return out


@pytest.fixture(scope="session")
async def tiny_cycle(nats_server: EmbeddedNats, tiny_model_dir: Path,
                     tmp_path_factory: pytest.TempPathFactory) -> Cycle:
    from services.evaluator.service import setup as evaluator
    from services.evaluator.settings import EvaluatorSettings
    from services.promoter.service import setup as promoter
    from services.promoter.settings import PromoterSettings
    from services.trainer.service import setup as trainer
    from services.trainer.settings import TrainerSettings

    tmp = tmp_path_factory.mktemp("tiny-cycle")
    common = CommonSettings(data_dir=tmp / "data", base_model=str(tiny_model_dir))
    bus = await Bus.connect(nats_server.url, "test-cli", attempts=3)
    progress: list[Progress] = []
    try:
        store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
        cycle_id, dataset_id = uuid.uuid4().hex, uuid.uuid4().hex
        name = f"datasets/{SPECIALIST}/{dataset_id}"
        ref = await put_dir(store, name, write_dataset(tmp / "dataset"))

        async def on_progress(msg) -> None:  # noqa: ANN001
            p = Progress.model_validate_json(msg.data)
            if p.cycle_id == cycle_id:
                progress.append(p)

        live = await bus.nc.subscribe(PROGRESS_SUBJECT, cb=on_progress)
        tables = [await trainer(bus, common, TrainerSettings(max_steps=STEPS, batch_size=2, max_length=96)),
                  await evaluator(bus, common, EvaluatorSettings(suite=SPECIALIST, max_new_tokens=4, general_suite="")),
                  await promoter(bus, common, PromoterSettings())]
        async with serving(bus, tables[0]), serving(bus, tables[1]), serving(bus, tables[2]):
            await bus.publish(HarvestRequested(cycle_id=cycle_id, specialist=SPECIALIST, reason="manual"))
            await bus.publish(DatasetReady(cycle_id=cycle_id, specialist=SPECIALIST, dataset_id=dataset_id, ref=ref,
                                           kept=8, new=8, corpus_version=1))
            events = await events_of(bus, cycle_id, 10, timeout=300, until=(ModelPromoted, ModelRejected))
        await asyncio.sleep(0.2)  # the last progress message is in flight with the decision
        await live.unsubscribe()
    finally:
        await bus.close()
    decision = events[-1]
    assert isinstance(decision, ModelPromoted | ModelRejected), events
    return Cycle(url=nats_server.url, cycle_id=cycle_id, checkpoint_id=decision.checkpoint_id, dataset_name=name,
                 decision="promoted" if isinstance(decision, ModelPromoted) else "rejected", progress=progress)
