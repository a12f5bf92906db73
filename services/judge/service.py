"""Judge bus adapter, in two roles that scale apart.

- filter workers (durable `judge-filter`, shared by any number of processes: a queue group):
  examples.harvested → filters → the batch's verdicts staged in the object store;
- one assembler (durable `judge-assembler`): harvest.completed → wait until every batch of the
  cycle is staged → dedup, decontaminate → the specialist's corpus grows (and retires what no
  longer holds) → corpus.updated, and, when the curator says so (curator.py), a balanced
  snapshot of the corpus → dataset in the store → dataset.ready. The assembler also runs the
  training schedules (train.requested), follows a training in flight stage by stage
  (checkpoint.ready, eval.completed) against each stage's deadline, and hears the decisions that
  end it.

Dedup history and the corpus are versioned: the assembler pins, per cycle, the versions it
started from, so a redelivered harvest.completed rebuilds the same corpus version and dataset
instead of finding every example a duplicate of itself; what it announced is recorded first and
said again on redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

from nats.js.errors import NotFoundError
from nats.js.object_store import ObjectStore

from services.judge.batch import BatchVerdicts, filter_batch
from services.judge.config import JudgeConfig
from services.judge.core import assemble, build_filters, dataset_from_snapshot
from services.judge.corpus import Corpus, CorpusManifest, aged_out, snapshot, stale
from services.judge.curator import InFlight, decide, overdue
from services.judge.dataset import write_dataset
from services.judge.decontaminate import decontaminate, load_index
from services.judge.dedup import DedupHistory
from services.judge.settings import JudgeSettings
from services.judge.verdict import Filter
from shared import metrics
from shared.bus import Bus, Consumer, Delivery, Poison
from shared.cron import Cron
from shared.events import (
    ArtifactRef,
    CheckpointReady,
    CorpusUpdated,
    DatasetReady,
    EvalCompleted,
    Event,
    Example,
    ExamplesHarvested,
    HarvestCompleted,
    ModelPromoted,
    ModelRejected,
    TrainRequested,
    decode,
    derived_id,
    subject_of,
    utcnow,
)
from shared.models import resolve_base_model
from shared.registry import Registry
from shared.schedule import claim_slot
from shared.service import ServiceTable
from shared.settings import CommonSettings
from shared.specialists import profile, specialists
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

    # ------------------------------------------------------------------ the assembler: corpus and training

    async def on_completed(self, event: HarvestCompleted, delivery: Delivery) -> None:
        """A judged harvest goes into the corpus; it starts a training when the curator says so."""
        if await self._replay(f"cycle.{event.cycle_id}"):
            return
        batches = await self.wait_for_batches(event)
        sp = event.specialist
        # Pin what this cycle starts from (first delivery), so a redelivery rebuilds the same result.
        pinned = await self._pinned("history-base", event.cycle_id, f"history.{sp}")
        history = await _load_history(self.store, "" if pinned == NO_HISTORY else pinned.decode())
        base = await self._load_corpus(await self._pinned("corpus-base", event.cycle_id, f"corpus.{sp}"), sp)

        # The delta is judged whole (no per-category cut): balancing is the snapshot's job.
        delta_config = self.config.model_copy(update={"per_category_cap": 10**9, "max_examples": None})
        ds = await asyncio.to_thread(assemble, batches, specialist=sp, config=delta_config, history=history)
        now = event.occurred_at  # not the clock: a redelivery must make the same corpus version
        seen = {e.id for b in batches for e in b.kept} | {r.id for b in batches for r in b.rejected if r.id}
        corpus = base.add(ds.examples, cycle_id=event.cycle_id, now=now)
        retire = stale(corpus, event.refreshed, event.full_scan, event.gone, seen)
        retire |= aged_out(corpus, profile(sp).cadence.session_horizon, now)
        index = ds.report.decontamination_index
        if index and base.decontamination_index and index != base.decontamination_index:
            # the suites (or benchmarks) changed: everything learned so far is checked against them again
            retire |= await asyncio.to_thread(recheck_contamination, corpus, self.config)
        corpus = corpus.retire(retire, now=now).model_copy(update={"decontamination_index": index})

        running = await self._running(sp, now)
        counts = corpus.counts()
        decision = decide(event.reason, counts["new_since_training"], profile(sp).cadence.min_new_examples, running)
        if decision.train and counts["live"] == 0:
            raise Poison(f"corpus of {sp} is empty after judging cycle {event.cycle_id}: dropped {ds.report.dropped}")
        events: list[Event] = []
        if decision.train:
            corpus, ready = await self._train(corpus, event.cycle_id, event.reason, ds.rejected, index, now)
            events.append(ready)
        elif decision.coalesce and running is not None:
            await self._set_running(sp, running.model_copy(update={"pending": event.reason}))
        await self._save_corpus(corpus, now)
        if ds.examples:
            await self._extend_history(event.cycle_id, sp, history, ds.examples)
        kinds = Counter(reason.split(":", 1)[0] for reason in retire.values())
        update = CorpusUpdated(
            event_id=derived_id("corpus", event.cycle_id), cycle_id=event.cycle_id, specialist=sp,
            corpus_version=corpus.version, added=len(ds.examples), retired=dict(sorted(kinds.items())),
            live=counts["live"], new_since_training=corpus.counts()["new_since_training"],
            training=decision.train, why=decision.why,
        )
        await self._announce(f"cycle.{event.cycle_id}", [update, *events])
        if decision.train:
            metrics.DATASETS.labels(sp).inc()
        for e in ds.examples:
            metrics.EXAMPLES_KEPT.labels(sp, e.category).inc()
        log.info("corpus %s v%d: +%d, retired %s, %d live, %d new since training; %s", sp, corpus.version,
                 len(ds.examples), dict(kinds), counts["live"], update.new_since_training, decision.why)
        # The verdicts live on in the corpus and the dataset's excluded.jsonl: the staging can go.
        for i in range(event.batch_count):
            with contextlib.suppress(Exception):
                await self.obj.delete(staged_name(event.cycle_id, i))

    async def on_train_requested(self, event: TrainRequested, delivery: Delivery) -> None:
        """The schedule (or a coalesced trigger): train on a snapshot of the corpus as it is."""
        if await self._replay(f"train.{event.event_id}"):
            return
        sp = event.specialist
        now = event.occurred_at
        corpus = await self._load_corpus(await self._manifest_raw(f"corpus.{sp}"), sp)
        running = await self._running(sp, now)
        counts = corpus.counts()
        decision = decide(event.reason, counts["new_since_training"], profile(sp).cadence.min_new_examples, running)
        events: list[Event] = []
        if decision.train and counts["live"]:
            corpus, ready = await self._train(corpus, event.cycle_id, event.reason, [], corpus.decontamination_index,
                                              now)
            await self._save_corpus(corpus, now)
            events.append(ready)
        elif decision.coalesce and running is not None:
            await self._set_running(sp, running.model_copy(update={"pending": event.reason}))
        update = CorpusUpdated(
            event_id=derived_id("corpus-train", event.event_id), cycle_id=event.cycle_id, specialist=sp,
            corpus_version=corpus.version, added=0, live=counts["live"],
            new_since_training=corpus.counts()["new_since_training"], training=bool(events),
            why=decision.why if counts["live"] else "the corpus is empty",
        )
        await self._announce(f"train.{event.event_id}", [update, *events])
        log.info("%s training request for %s: %s", event.reason, sp, update.why)

    async def on_decided(self, event: ModelPromoted | ModelRejected, delivery: Delivery) -> None:
        """A training was decided: it no longer runs; a trigger that waited for it runs now, once."""
        running = await self._in_flight(event.specialist, event.cycle_id)
        if running is None:
            return
        await self.state.kv.delete(f"done.training.{event.specialist}")
        await self._run_pending(event.specialist, running)

    async def _in_flight(self, sp: str, cycle_id: str) -> InFlight | None:
        """The specialist's training in flight, if it is the one of `cycle_id`."""
        raw = await self.state.marked("training", sp)
        running = InFlight.model_validate_json(raw) if raw is not None else None
        return running if running is not None and running.cycle_id == cycle_id else None

    async def _run_pending(self, sp: str, running: InFlight) -> None:
        """The trigger coalesced while `running` trained runs now, once (its ids derive from the cycle)."""
        if running.pending:
            await self.bus.publish(TrainRequested(
                event_id=derived_id("coalesced", running.cycle_id),
                cycle_id=derived_id("cycle", "coalesced", running.cycle_id), specialist=sp, reason="coalesced",
            ))

    async def on_stage(self, event: CheckpointReady | EvalCompleted, delivery: Delivery) -> None:
        """The training in flight moved on a stage: its next stage's deadline starts now."""
        running = await self._in_flight(event.specialist, event.cycle_id)
        if running is None:
            return
        moved = running.advanced("evaluation" if isinstance(event, CheckpointReady) else "decision", utcnow())
        if moved is not running:
            await self._set_running(event.specialist, moved)

    async def schedule_trainings(self) -> None:
        """Each specialist's training schedule; a slot is claimed by CAS in KV, so it fires once
        across restarts and replicas, and a slot missed while the loop was down fires once."""
        while True:
            try:
                await self.check_deadlines(utcnow())
            except Exception:  # noqa: BLE001 - retried at the next tick
                log.exception("checking training deadlines failed")
            for sp in specialists().names:
                try:
                    slot = Cron.parse(profile(sp).cadence.train).previous(utcnow())
                    if slot is not None and await claim_slot(self.state, f"train.{sp}", slot):
                        await self.bus.publish(TrainRequested(
                            event_id=derived_id("train-schedule", sp, slot.isoformat()),
                            cycle_id=derived_id("cycle", "train", sp, slot.isoformat()), specialist=sp,
                            reason="schedule"))
                        log.info("scheduled training of %s (slot %s)", sp, slot.isoformat())
                except Exception:  # noqa: BLE001 - retried at the next tick
                    log.exception("training schedule of %s failed", sp)
            await asyncio.sleep(self.settings.schedule_tick_s)

    # ------------------------------------------------------------------ helpers

    async def _train(self, corpus: Corpus, cycle_id: str, reason: str, rejected: list, index: str | None,
                     now: datetime) -> tuple[Corpus, DatasetReady]:
        sp = corpus.specialist
        snap = snapshot(corpus, profile(sp), cap=self.config.per_category_cap, max_examples=self.config.max_examples,
                        generator_weights=self.config.generator_weights)
        ds = dataset_from_snapshot(sp, snap, rejected, self.config, index)
        (self.common.data_dir / "tmp").mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=self.common.data_dir / "tmp") as tmp:
            out = Path(tmp) / "dataset"
            await asyncio.to_thread(write_dataset, ds, out)
            ref = await put_dir(self.store, f"datasets/{sp}/{ds.dataset_id}", out)
        ready = DatasetReady(
            event_id=derived_id("dataset", cycle_id), cycle_id=cycle_id, specialist=sp, dataset_id=ds.dataset_id,
            ref=ref, kept=len(ds.examples), dropped=ds.report.dropped, mix={c: m.kept for c, m in snap.mix.items()},
            corpus_version=corpus.version, new=snap.new, replayed=snap.replayed, reason=reason,
        )
        await self._set_running(sp, InFlight(cycle_id=cycle_id, since=now, ready=ready.model_dump_json()))
        return corpus.mark_trained(), ready

    async def _running(self, sp: str, now: datetime) -> InFlight | None:
        raw = await self.state.marked("training", sp)
        if raw is None:
            return None
        running = InFlight.model_validate_json(raw)
        # past every stage's deadline twice over: whatever became of it, it no longer blocks a new training
        return None if running.expired(now, 2 * sum(self.settings.stage_deadlines().values())) else running

    async def check_deadlines(self, now: datetime) -> None:
        """A training whose current stage gave no result by that stage's deadline is re-run once
        from its last completed stage, then marked failed (`ouro status` shows it)."""
        deadlines = self.settings.stage_deadlines()
        for sp in specialists().names:
            raw = await self.state.marked("training", sp)
            if raw is None:
                continue
            running = InFlight.model_validate_json(raw)
            late = f"no {running.stage} result within {deadlines[running.stage]:.0f} s"
            match overdue(running, now, deadlines):
                case "rerun":
                    old = DatasetReady.model_validate_json(running.ready or "")
                    cycle_id = derived_id("rerun", running.cycle_id)
                    again = old.model_copy(update={"cycle_id": cycle_id, "event_id": derived_id("dataset", cycle_id)})
                    await self._set_running(sp, running.model_copy(update={
                        "cycle_id": cycle_id, "since": now, "attempts": running.attempts + 1,
                        "ready": again.model_dump_json(), "stage": "training", "stage_since": now}))
                    await self.bus.publish(again)
                    log.warning("cycle %s of %s: %s; re-run once from its last completed stage as %s",
                                running.cycle_id, sp, late, cycle_id)
                case "fail":
                    reason = f"{late}, {running.attempts} attempt(s)"
                    await self.state.mark("failed", sp, json.dumps(
                        {"cycle_id": running.cycle_id, "reason": reason, "at": now.isoformat()}).encode())
                    await self.state.kv.delete(f"done.training.{sp}")
                    await self._run_pending(sp, running)  # a trigger that waited for it is not lost
                    metrics.CYCLES_FAILED.labels(sp, f"deadline_{running.stage}").inc()
                    log.error("cycle %s of %s failed: %s", running.cycle_id, sp, reason)

    async def _set_running(self, sp: str, running: InFlight) -> None:
        await self.state.mark("training", sp, running.model_dump_json().encode())

    async def _pinned(self, stage: str, cycle_id: str, key: str) -> bytes:
        """The value of `key` when this cycle was first delivered (b"-": none then)."""
        pinned = await self.state.marked(stage, cycle_id)
        if pinned is None:
            # b"-": nothing yet. Not b"": a KV entry with an empty value reads back as None.
            pinned = (await self._manifest_raw(key)) or NO_HISTORY
            await self.state.mark(stage, cycle_id, pinned)
        return pinned

    async def _manifest_raw(self, key: str) -> bytes | None:
        return await self.state.marked(*key.split(".", 1))

    async def _load_corpus(self, raw: bytes | None, sp: str) -> Corpus:
        if not raw or raw == NO_HISTORY:
            return Corpus(specialist=sp)
        manifest = CorpusManifest.model_validate_json(raw)
        if manifest.ref is None:
            return Corpus(specialist=sp)
        with tempfile.TemporaryDirectory() as tmp:
            path = await self.store.get_file(manifest.ref, Path(tmp) / "corpus.jsonl.gz")
            return await asyncio.to_thread(lambda: Corpus.loads(path.read_bytes()))

    async def _save_corpus(self, corpus: Corpus, now: datetime) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = await asyncio.to_thread(corpus.save, Path(tmp) / "corpus.jsonl.gz")
            ref = await self.store.put_file(f"corpus/{corpus.specialist}/{corpus.version:08d}.jsonl.gz", path)
        await self.state.mark("corpus", corpus.specialist, corpus.manifest(ref, now).model_dump_json().encode())
        metrics.CORPUS_EXAMPLES.labels(corpus.specialist, "live").set(corpus.counts()["live"])
        metrics.CORPUS_EXAMPLES.labels(corpus.specialist, "retired").set(corpus.counts()["retired"])

    async def _extend_history(self, cycle_id: str, sp: str, history: DedupHistory, examples: list[Example]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            await asyncio.to_thread(_extend_history, history, examples, Path(tmp) / "history.npz")
            # one file per cycle: a pointer pinned by an earlier cycle never sees its file change
            href = await self.store.put_file(f"dedup/{sp}/{cycle_id}.npz", Path(tmp) / "history.npz")
        await self.state.mark("history", sp, href.model_dump_json().encode())

    async def _announce(self, key: str, events: list[Event]) -> None:
        """Record what this delivery decided before publishing it, so a redelivery says the same."""
        record = json.dumps([[subject_of(e).value, e.model_dump_json()] for e in events]).encode()
        await self.state.mark("announced", key, record)
        for e in events:
            await self.bus.publish(e)

    async def _replay(self, key: str) -> bool:
        raw = await self.state.marked("announced", key)
        if raw is None:
            return False
        for subject, data in json.loads(raw):
            await self.bus.publish(decode(subject, data.encode()))
        return True


def recheck_contamination(corpus: Corpus, config: JudgeConfig) -> dict[str, str]:
    """The live entries that overlap the current suites and benchmarks (after a suite changed)."""
    index = load_index(suites=config.suite_dirs(), extra=config.extra_benchmark_files,
                       builtin=config.builtin_benchmarks, n=config.decontam_ngram,
                       fallback=config.decontam_fallback_ngram, cache_dir=config.cache_dir)
    _, dirty = decontaminate([e.example for e in corpus.live()], index, overlap=config.decontam_overlap)
    return {e.id: f"contaminated:{item}" for e, item in dirty}


async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: JudgeSettings | None = None) -> ServiceTable:
    settings = settings or JudgeSettings()
    j = Judge(bus, await bus.object_store(ARTIFACT_BUCKET), Registry(await bus.kv(JUDGE_BUCKET)),
              common or CommonSettings(), settings)
    # Filter workers scale out on one durable (16 at once); one assembler per cycle.
    filters = Consumer("judge-filter", {ExamplesHarvested: j.on_batch}, ack_wait=settings.ack_wait, max_ack_pending=16)
    # One assembler: the corpus, the training triggers and the decisions that end a training are
    # handled one at a time (the corpus is read-modify-write).
    assembler = Consumer("judge-assembler", {
        HarvestCompleted: j.on_completed, TrainRequested: j.on_train_requested,
        ModelPromoted: j.on_decided, ModelRejected: j.on_decided,
        CheckpointReady: j.on_stage, EvalCompleted: j.on_stage,
    }, ack_wait=settings.ack_wait)
    roles = {"all": [filters, assembler], "filter": [filters], "assembler": [assembler]}
    background = [j.schedule_trainings] if settings.role != "filter" and settings.schedule else []
    return ServiceTable(consumers=roles[settings.role], background=background)


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
