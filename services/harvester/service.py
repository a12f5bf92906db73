"""Harvester bus adapter: harvest.requested | commits.new | sessions.new → examples.harvested batches,
then harvest.completed.

Watermarks (KV `ouro-harvester`) make a cycle mine only what is new since the last one: a commit
per specialist and repo (`done.watermark.<specialist>.<repo>`), and a marker per session file
content already mined for a specialist (`done.sessions.<specialist>.<sha256[:32]>`). They move only after every batch is
published, so a harvester killed mid-way re-mines the same range on redelivery; batch ids are
derived from (cycle, batch), so the republished batches are dropped by JetStream's dedup. Weak
categories from the promoter are kept per specialist and folded into that specialist's next cycle.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import tempfile
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from services.harvester.categories import check_tasks
from services.harvester.core import HarvestError, HarvestResult, harvest
from services.harvester.generators.sessions import session_digests
from services.harvester.plan import ChampionFacts, DecisionFacts, HarvestPlan, LoopRecord, build_plan, config_record
from services.harvester.settings import HarvesterSettings
from shared import metrics
from shared.bus import Bus, Consumer, Delivery, Poison
from shared.cron import Cron
from shared.events import (
    CommitsNew,
    Example,
    ExamplesHarvested,
    HarvestCompleted,
    HarvestRequested,
    ModelPromoted,
    Reason,
    SessionsNew,
    derived_id,
    utcnow,
)
from shared.models import resolve_base_model
from shared.registry import REGISTRY_BUCKET, ChampionRecord, Registry
from shared.schedule import claim_slot
from shared.service import ServiceTable
from shared.settings import CommonSettings
from shared.specialists import profile, specialists

log = logging.getLogger("ouro.harvester")
HARVESTER_BUCKET = "ouro-harvester"


def batch_examples(examples: list[Example], size: int, max_bytes: int) -> list[list[Example]]:
    """At most `size` examples and about `max_bytes` of JSON per batch: NATS refuses messages over
    its max_payload (1 MB by default), so long sessions must not make a batch unpublishable."""
    batches: list[list[Example]] = []
    current: list[Example] = []
    used = 0
    for e in examples:
        n = len(e.model_dump_json())
        if current and (len(current) >= size or used + n > max_bytes):
            batches.append(current)
            current, used = [], 0
        current.append(e)
        used += n
    if current:
        batches.append(current)
    return batches


def _refused(err: Exception) -> bool:
    """A permissions refusal (lasting), not a passing failure (retried next harvest)."""
    return isinstance(err, PermissionError) or "permission" in str(err).lower() or "authoriz" in str(err).lower()


def _champion_facts(r: ChampionRecord) -> ChampionFacts:
    return ChampionFacts(r.checkpoint_id, r.overall, tuple(sorted(r.categories.items())),
                         r.promoted_at.isoformat(timespec="minutes"), r.reason)


def repo_key(repo: str) -> str:
    return hashlib.sha256(str(Path(repo).resolve()).encode()).hexdigest()[:24]


def watermark_key(specialist: str, repo: str) -> str:
    """Per specialist and repo: one commit feeds every specialist, each from its own watermark."""
    return f"{specialist}.{repo_key(repo)}"


def session_key(specialist: str, digest: str) -> str:
    return f"{specialist}.{digest[:32]}"


class Harvester:
    """The harvester's state (watermarks, weak categories) around the pure `harvest` core."""

    def __init__(self, bus: Bus, state: Registry, common: CommonSettings, settings: HarvesterSettings) -> None:
        self.bus, self.state, self.common, self.settings = bus, state, common, settings
        self.unreadable: set[str] = set()  # buckets this identity may not read: not asked again

    async def weak_for(self, specialist: str) -> tuple[str, ...]:
        raw = await self.state.marked("weak", specialist)
        return tuple(json.loads(raw)) if raw else ()

    async def run(self, cycle_id: str, plan: HarvestPlan, reason: Reason) -> None:
        try:
            result: HarvestResult = await asyncio.to_thread(harvest, plan)
        except HarvestError as err:
            raise Poison(str(err)) from err
        settings, state = self.settings, self.state
        batches = batch_examples(result.examples, settings.batch_size, settings.batch_bytes)
        for i, batch in enumerate(batches):
            await self.bus.publish(ExamplesHarvested(
                event_id=derived_id("batch", cycle_id, str(i)), cycle_id=cycle_id,
                specialist=plan.specialist, batch_index=i, examples=tuple(batch),
            ))
        await self.bus.publish(HarvestCompleted(
            event_id=derived_id("harvested", cycle_id), cycle_id=cycle_id, specialist=plan.specialist,
            batch_count=len(batches), example_count=len(result.examples), by_generator=result.by_generator,
            skipped=result.skipped, commit_classes=result.commit_classes, weak_categories=plan.weak_categories,
            reason=reason, refreshed=result.refreshed, full_scan=result.full_scan, gone=result.gone,
        ))
        for e in result.examples:
            metrics.EXAMPLES_HARVESTED.labels(e.generator, e.category).inc()
        for reason, n in result.skipped.items():
            metrics.HARVEST_SKIPPED.labels(reason).inc(n)
        for kind, n in result.scrubbed.items():
            metrics.SECRETS_SCRUBBED.labels(kind).inc(n)
        for kind, n in result.commit_classes.items():
            metrics.COMMITS_MINED.labels(kind).inc(n)
        if plan.repo is not None and result.head_commit and settings.incremental:
            await state.mark("watermark", watermark_key(plan.specialist, str(plan.repo)), result.head_commit.encode())
        if settings.incremental:
            for h in sorted(set(result.session_hashes.values())):
                await state.mark("sessions", session_key(plan.specialist, h), b"1")
        if plan.weak_categories:
            await state.mark("weak", plan.specialist, b"[]")
        log.info("cycle %s: %d examples in %d batches %s", cycle_id, len(result.examples), len(batches),
                 result.by_generator)

    async def seen_sessions(self, specialist: str, sessions: Path) -> frozenset[str]:
        """The hashes of the session files under `sessions` this specialist's cycles mined before."""
        digests = sorted(set((await asyncio.to_thread(session_digests, sessions)).values()))
        seen: set[str] = set()
        for i in range(0, len(digests), 64):  # one KV read per file, 64 at a time
            chunk = digests[i:i + 64]
            marks = await asyncio.gather(*(self.state.marked("sessions", session_key(specialist, h)) for h in chunk))
            seen.update(h for h, m in zip(chunk, marks, strict=True) if m)
        return frozenset(seen)

    async def plan_for(self, specialist: str, repo: str | None, sessions: Path | None,
                       weak: tuple[str, ...], new_sessions: bool = False) -> HarvestPlan:
        """`new_sessions`: the sessions are new by definition (a sessions.new): mined whatever the KV says."""
        incremental = self.settings.incremental
        since = None
        if repo and incremental:
            raw = await self.state.marked("watermark", watermark_key(specialist, repo))
            since = raw.decode() if raw else None
        seen: frozenset[str] = frozenset()
        if sessions is not None and incremental and not new_sessions:
            seen = await self.seen_sessions(specialist, sessions)
        tokenizer_dir = await asyncio.to_thread(resolve_base_model, self.common.base_model, self.common.data_dir)
        plan, why = build_plan(
            specialist, self.settings, repo=repo, sessions=sessions, tokenizer_dir=tokenizer_dir,
            weak_categories=tuple(dict.fromkeys(weak + await self.weak_for(specialist))), since_commit=since,
            seen_sessions=seen, record=await self.loop_record(specialist, tokenizer_dir),
        )
        if why:
            log.warning(why)
        return plan

    async def loop_record(self, specialist: str, model_dir: Path | None) -> LoopRecord:
        """The loop's record of `specialist`, self-description's ground truth: the registry's champion,
        earlier champions and the champion's promotion decision, the judge's corpus manifest and the
        weak categories fed back. A part that cannot be read (a bucket this identity may not read)
        stays empty: the record then says less, never something false."""
        record = config_record(specialist, self.common.base_model, model_dir)
        champion, history, decision = None, (), None
        try:
            if REGISTRY_BUCKET in self.unreadable:
                raise PermissionError(f"{REGISTRY_BUCKET} was not readable before")
            reg = Registry(await self.bus.kv(REGISTRY_BUCKET))
            champ, _ = await reg.champion(specialist)
            if champ is not None:
                champion = _champion_facts(champ)
                history = tuple(_champion_facts(r) for r in await reg.archived(specialist)
                                if r.checkpoint_id != champ.checkpoint_id and r.promoted_at <= champ.promoted_at)
                d = await reg.decision(champ.checkpoint_id)
                if d is not None:
                    decision = DecisionFacts(d.checkpoint_id, promoted=isinstance(d, ModelPromoted),
                                             overall=d.overall, reasons=tuple(d.reasons),
                                             weak_categories=tuple(getattr(d, "weak_categories", ())))
        except Exception as err:  # noqa: BLE001 - a record without the registry is still true
            if REGISTRY_BUCKET not in self.unreadable:
                log.warning("self-description of %s without the registry: %s", specialist, err)
            if _refused(err):
                self.unreadable.add(REGISTRY_BUCKET)
        corpus: tuple[tuple[str, int], ...] = ()
        try:
            if "ouro-judge" in self.unreadable:
                raise PermissionError("ouro-judge was not readable before")
            raw = await Registry(await self.bus.kv("ouro-judge")).marked("corpus", specialist)
            if raw:
                m = json.loads(raw)
                corpus = tuple((k, int(m[k])) for k in ("live", "retired", "version") if isinstance(m.get(k), int))
        except Exception as err:  # noqa: BLE001
            if "ouro-judge" not in self.unreadable:
                log.warning("self-description of %s without corpus statistics: %s", specialist, err)
            if _refused(err):
                self.unreadable.add("ouro-judge")
        return replace(record, champion=champion, history=history, last_decision=decision, corpus=corpus,
                       weak_categories=await self.weak_for(specialist))

    async def on_feedback(self, event: HarvestRequested) -> None:
        merged = tuple(dict.fromkeys(event.weak_categories + await self.weak_for(event.specialist)))
        await self.state.mark("weak", event.specialist, json.dumps(merged).encode())
        log.info("weak categories for %s's next cycle: %s", event.specialist, ", ".join(merged))
        if not self.settings.rerun_on_feedback:
            return
        last = await self.state.marked("lastplan", event.specialist)
        repo, sessions = json.loads(last) if last else (None, None)
        plan = await self.plan_for(event.specialist, repo, Path(sessions) if sessions else None, ())
        await self.run(derived_id("rerun", event.cycle_id), plan, "feedback")

    async def on_request(self, event: HarvestRequested, delivery: Delivery) -> None:
        if event.reason == "feedback":
            await self.on_feedback(event)
            return
        if not event.repo and not event.sessions:
            raise Poison("harvest.requested names neither a repo nor sessions to mine")
        await self.state.mark("lastplan", event.specialist, json.dumps([event.repo, event.sessions]).encode())
        sessions = Path(event.sessions) if event.sessions else None
        plan = await self.plan_for(event.specialist, event.repo, sessions, event.weak_categories)
        await self.run(event.cycle_id, plan, event.reason)

    def fan_out(self, cycle_id: str) -> list[tuple[str, str]]:
        """(specialist, cycle id) for each specialist a commit or a session feeds: the one
        configured, else every specialist. One cycle is one specialist's (batch ids and the judge's
        staging are per cycle), so the first keeps the event's cycle id and the others get ids
        derived from it."""
        names = (self.settings.trigger_specialist,) if self.settings.trigger_specialist else specialists().names
        return [(s, cycle_id if i == 0 else derived_id("fan-out", cycle_id, s)) for i, s in enumerate(names)]

    async def on_commit(self, event: CommitsNew, delivery: Delivery) -> None:
        # One commit feeds every specialist whose categories its tasks map to (each plan is
        # incremental from that specialist's own watermark, so each sees the commit once).
        for specialist, cycle_id in self.fan_out(event.cycle_id):
            await self.run(cycle_id, await self.plan_for(specialist, event.repo, None, ()), "commit")

    async def on_session(self, event: SessionsNew, delivery: Delivery) -> None:
        for specialist, cycle_id in self.fan_out(event.cycle_id):
            if event.ref:
                await self.run(cycle_id, await self.plan_for(specialist, None, Path(event.ref), (),
                                                             new_sessions=True), "session")
                continue
            with tempfile.TemporaryDirectory() as tmp:
                # the id is the sender's text: never a path
                path = Path(tmp) / f"{hashlib.sha256(event.session_id.encode()).hexdigest()[:16]}.jsonl"
                messages = [m.model_dump() for m in event.messages]
                # `route`: the specialist the router served it with, the label of its last turn's intent
                path.write_text(json.dumps({"session_id": event.session_id, "messages": messages,
                                            "route": event.specialist}) + "\n")
                await self.run(cycle_id, await self.plan_for(specialist, None, path, (), new_sessions=True),
                               "session")

    async def schedule_harvests(self) -> None:
        """Each specialist's harvest schedule re-harvests the repo and sessions it mined last; a slot
        missed while the loop was down fires once. The last slot fired is kept in KV (CAS), so a
        restarted or second harvester never fires a slot twice."""
        while True:
            for specialist in specialists().names:
                try:
                    await self.fire_harvest(specialist, utcnow())
                except Exception:  # noqa: BLE001 - a failed slot is retried at the next tick
                    log.exception("scheduled harvest of %s failed", specialist)
            await asyncio.sleep(self.settings.schedule_tick_s)

    async def fire_harvest(self, specialist: str, now: datetime) -> bool:
        slot = Cron.parse(profile(specialist).cadence.harvest).previous(now)
        if slot is None or not await claim_slot(self.state, f"harvest.{specialist}", slot):
            return False
        last = await self.state.marked("lastplan", specialist)
        repo, sessions = json.loads(last) if last else (None, None)
        if not repo and not sessions:
            log.info("scheduled harvest of %s: nothing mined before, nothing to re-harvest", specialist)
            return False
        await self.bus.publish(HarvestRequested(
                event_id=derived_id("schedule", specialist, slot.isoformat()),
            cycle_id=derived_id("cycle", slot.isoformat(), specialist),
            specialist=specialist, reason="schedule", repo=repo, sessions=sessions,
        ))
        log.info("scheduled harvest of %s (slot %s)", specialist, slot.isoformat())
        return True


async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: HarvesterSettings | None = None) -> ServiceTable:
    settings = settings or HarvesterSettings()
    check_tasks()  # a specialist file mapping a task no generator makes fails here, at start
    if settings.trigger_specialist:
        profile(settings.trigger_specialist)  # and so does a trigger specialist it does not define
    h = Harvester(bus, Registry(await bus.kv(HARVESTER_BUCKET)), common or CommonSettings(), settings)
    # One harvest at a time per harvester group: watermarks and weak categories are read-modify-write.
    routes = {HarvestRequested: h.on_request, CommitsNew: h.on_commit, SessionsNew: h.on_session}
    return ServiceTable(consumers=[Consumer("harvester", routes, ack_wait=settings.ack_wait, max_ack_pending=1)],
                        background=[h.schedule_harvests] if settings.schedule else [])
