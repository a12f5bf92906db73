"""Judge bus adapter, in two roles that scale apart.

- filter workers (durable `judge-filter`, shared by any number of processes: a queue group):
  examples.harvested → filters → the batch's verdicts staged in the object store;
- one assembler (durable `judge-assembler`): harvest.completed → wait until every batch of the
  cycle is staged → dedup, decontaminate, balance → dataset in the store → dataset.ready.

Dedup history is versioned: the assembler pins, per cycle, the history it started from, so a
redelivered harvest.completed rebuilds the same dataset instead of finding every example a
duplicate of itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from pathlib import Path

from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from services.judge.batch import BatchVerdicts, filter_batch
from services.judge.core import assemble, build_filters
from services.judge.dataset import write_dataset
from services.judge.dedup import DedupHistory
from services.judge.settings import JudgeSettings
from services.judge.verdict import Filter
from shared import metrics
from shared.bus import Bus, Consumer, Delivery, Poison
from shared.events import (
    ArtifactRef,
    DatasetReady,
    Example,
    ExamplesHarvested,
    HarvestCompleted,
    derived_id,
)
from shared.models import resolve_base_model
from shared.registry import Registry
from shared.service import ServiceTable
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, put_dir

log = logging.getLogger("ouro.judge")
JUDGE_BUCKET = "ouro-judge"
NO_HISTORY = b"-"


def staged_name(cycle_id: str, batch_index: int) -> str:
    return f"staging/{cycle_id}/{batch_index:05d}.json"


async def _exists(obj: ObjectStore, name: str) -> bool:
    try:
        await obj.get_info(name)
        return True
    except NotFoundError:
        return False


class Judge:
    """Filter workers and the assembler around the judge's pure core (filter_batch, assemble)."""

    def __init__(self, bus: Bus, obj: ObjectStore, state: Registry, common: CommonSettings,
                 settings: JudgeSettings) -> None:
        self.bus, self.obj, self.state, self.common, self.settings = bus, obj, state, common, settings
        self.config = settings.judge_config()
        self.store = NatsArtifactStore(obj)
        self.filters: dict[str, list[Filter]] = {}

    async def filters_for(self, specialist: str) -> list[Filter]:
        common, config, filters = self.common, self.config, self.filters
        if specialist not in filters:  # tokenizer and embedding model load once per process
            base_dir = await asyncio.to_thread(resolve_base_model, common.base_model, common.data_dir)
            filters[specialist] = await asyncio.to_thread(build_filters, config, specialist, base_dir)
        return filters[specialist]

    async def on_batch(self, event: ExamplesHarvested, delivery: Delivery) -> None:
        config, obj, filters_for = self.config, self.obj, self.filters_for
        verdicts = await asyncio.to_thread(
            filter_batch, list(event.examples), await filters_for(event.specialist), max_bytes=config.max_bytes
        )
        # Staged under a name fixed by (cycle, batch): a redelivered batch overwrites itself.
        await obj.put(staged_name(event.cycle_id, event.batch_index), verdicts.model_dump_json().encode())
        for r in verdicts.rejected:
            metrics.EXAMPLES_DROPPED.labels(event.specialist, r.reason).inc()
        log.info("filtered batch %d of cycle %s: kept %d of %d", event.batch_index, event.cycle_id[:8],
                 len(verdicts.kept), len(event.examples))

    async def wait_for_batches(self, event: HarvestCompleted) -> list[BatchVerdicts]:
        settings, obj = self.settings, self.obj
        names = [staged_name(event.cycle_id, i) for i in range(event.batch_count)]
        deadline = time.monotonic() + settings.assemble_timeout_s
        missing = names
        while missing:
            missing = [n for n in missing if not await _exists(obj, n)]
            if missing and time.monotonic() > deadline:
                raise RuntimeError(f"{len(missing)} of {len(names)} batches of cycle {event.cycle_id} never staged")
            if missing:
                await asyncio.sleep(0.5)
        return [BatchVerdicts.model_validate_json((await obj.get(n)).data) for n in names]

    async def on_completed(self, event: HarvestCompleted, delivery: Delivery) -> None:
        bus, common, config, obj, store, state = self.bus, self.common, self.config, self.obj, self.store, self.state
        wait_for_batches = self.wait_for_batches
        event_id = derived_id("dataset", event.cycle_id)
        done = await state.marked("dataset", event.cycle_id)
        if done is not None:
            await bus.publish(DatasetReady.model_validate_json(done))
            return
        batches = await wait_for_batches(event)

        sp = event.specialist
        # Pin the history this cycle starts from (first delivery) so a redelivery sees the same one.
        pinned = await state.marked("history-base", event.cycle_id)
        if pinned is None:
            # b"-": no history yet. Not b"": a KV entry with an empty value reads back as None.
            pinned = (await state.marked("history", sp)) or NO_HISTORY
            await state.mark("history-base", event.cycle_id, pinned)
        history = await _load_history(store, "" if pinned == NO_HISTORY else pinned.decode())

        ds = await asyncio.to_thread(assemble, batches, specialist=event.specialist, config=config, history=history)
        if not ds.examples:
            raise Poison(f"dataset for cycle {event.cycle_id} is empty after judging: dropped {ds.report.dropped}")
        (common.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=common.data_dir / "tmp") as tmp:
            out = Path(tmp) / "dataset"
            await asyncio.to_thread(write_dataset, ds, out)
            ref = await put_dir(store, f"datasets/{sp}/{ds.dataset_id}", out)
            await asyncio.to_thread(_extend_history, history, ds.examples, Path(tmp) / "history.npz")
            href = await store.put_file(f"dedup/{sp}/{ds.dataset_id}.npz", Path(tmp) / "history.npz")
        await state.mark("history", sp, href.model_dump_json().encode())

        mix = {c: m.kept for c, m in ds.report.mix.items()}
        ready = DatasetReady(
            event_id=event_id, cycle_id=event.cycle_id, specialist=event.specialist, dataset_id=ds.dataset_id,
            ref=ref, kept=len(ds.examples), dropped=ds.report.dropped, mix=mix,
        )
        await state.mark("dataset", event.cycle_id, ready.model_dump_json().encode())
        await bus.publish(ready)
        metrics.DATASETS.labels(sp).inc()
        for e in ds.examples:
            metrics.EXAMPLES_KEPT.labels(sp, e.category).inc()
        log.info("dataset %s: kept %d, dropped %s", ds.dataset_id[:12], len(ds.examples), ds.report.dropped)
        # The verdicts live on in the dataset (kept rows, excluded.jsonl): the staging can go.
        for i in range(event.batch_count):
            with contextlib.suppress(Exception):
                await obj.delete(staged_name(event.cycle_id, i))



async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: JudgeSettings | None = None) -> ServiceTable:
    settings = settings or JudgeSettings()
    j = Judge(bus, await bus.object_store(ARTIFACT_BUCKET), Registry(await bus.kv(JUDGE_BUCKET)),
              common or CommonSettings(), settings)
    # Filter workers scale out on one durable (16 at once); one assembler per cycle.
    filters = Consumer("judge-filter", {ExamplesHarvested: j.on_batch}, ack_wait=settings.ack_wait, max_ack_pending=16)
    assembler = Consumer("judge-assembler", {HarvestCompleted: j.on_completed}, ack_wait=settings.ack_wait)
    roles = {"all": [filters, assembler], "filter": [filters], "assembler": [assembler]}
    return ServiceTable(consumers=roles[settings.role])


def _extend_history(history: DedupHistory, examples: list[Example], path: Path) -> None:
    history.update(examples)
    history.save(path)


async def _load_history(store: NatsArtifactStore, pointer: str) -> DedupHistory:
    """The history a pointer names; loaded off the event loop (it grows with every dataset)."""
    if not pointer:
        return DedupHistory()
    with tempfile.TemporaryDirectory() as tmp:
        path = await store.get_file(ArtifactRef.model_validate_json(pointer), Path(tmp) / "history.npz")
        return await asyncio.to_thread(DedupHistory.load, path)
