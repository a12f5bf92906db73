"""Promoter bus adapter: eval.completed → policy → registry CAS → model.promoted | model.rejected.

Idempotent: the decision for a checkpoint is recorded in the registry before it is announced,
and announced under an id derived from (cycle, checkpoint), so a redelivery republishes the
same event (dropped by JetStream's dedup) and never promotes twice.
"""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path

from services.promoter.policy import Policy, decide
from services.promoter.serving import VllmServing
from services.promoter.settings import PromoterSettings
from shared import metrics
from shared.bus import Bus, ConsumerSpec, Delivery, Handler, Poison
from shared.events import (
    EvalCompleted,
    Event,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
    Subject,
    derived_id,
    utcnow,
)
from shared.registry import REGISTRY_BUCKET, ChampionRecord, Registry
from shared.settings import CommonSettings
from shared.specialists import profile
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir

log = logging.getLogger("ouro.promoter")


def _announce(event: EvalCompleted, promote: bool, reasons: tuple[str, ...], weak: tuple[str, ...],
              previous: str | None) -> Event:
    common = dict(
        event_id=derived_id("decision", event.cycle_id, event.checkpoint_id),
        cycle_id=event.cycle_id,
        specialist=event.specialist,
        checkpoint_id=event.checkpoint_id,
        overall=event.candidate_overall,
        categories=event.candidate,
        reasons=reasons,
    )
    if promote:
        return ModelPromoted(previous_champion=previous, **common)
    return ModelRejected(weak_categories=weak, **common)


async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: PromoterSettings | None = None) -> list[tuple[ConsumerSpec, Handler]]:
    common = common or CommonSettings()
    settings = settings or PromoterSettings()
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    serving = VllmServing(settings.vllm_url) if settings.vllm_url else None

    async def feedback(event: EvalCompleted, weak: tuple[str, ...]) -> None:
        if weak:
            await bus.publish(HarvestRequested(
                event_id=derived_id("feedback", event.cycle_id, event.checkpoint_id),
                cycle_id=event.cycle_id, specialist=event.specialist, reason="feedback", weak_categories=weak,
            ))

    async def on_eval(event: Event, delivery: Delivery) -> None:
        assert isinstance(event, EvalCompleted)
        recorded = await registry.marked("decision", event.checkpoint_id)
        if recorded is not None:
            # Decided before (a redelivery or a replay): say it again, change nothing. Both
            # announcements carry derived ids, so JetStream drops them if they went out already.
            log.info("decision for %s already made; re-announcing", event.checkpoint_id)
            kind = ModelPromoted if b'"previous_champion"' in recorded else ModelRejected
            old = kind.model_validate_json(recorded)
            await bus.publish(old.model_copy(update={
                "cycle_id": event.cycle_id,
                "event_id": derived_id("decision", event.cycle_id, event.checkpoint_id),
            }))
            if isinstance(old, ModelRejected):
                await feedback(event, old.weak_categories)
            return

        policy = Policy.from_profile(
            profile(event.specialist),
            min_overall=settings.min_overall,
            min_category=settings.min_category,
            must_beat_champion=settings.must_beat_champion,
            margin=settings.margin,
        )
        current, revision = await registry.champion(event.specialist)
        current_id = current.checkpoint_id if current else None
        decision = decide(policy, event.candidate, event.candidate_overall, event.champion, event.champion_overall)
        reasons = decision.reasons
        promote = decision.promote
        resumed = current_id == event.checkpoint_id
        if resumed:
            # We made it champion and then died (or serving failed) before recording the
            # decision: finish that promotion, do not judge it against itself.
            promote, reasons = True, (*decision.reasons, "resumed an interrupted promotion")
            current_id = event.champion_id
        elif promote and current_id != event.champion_id:
            # The champion changed after this evaluation: the comparison no longer holds.
            promote, reasons = False, (f"champion changed from {event.champion_id} to {current_id} during evaluation",)

        if promote:
            if resumed:
                record, new_revision = current, revision
            else:
                checkpoint = await registry.checkpoint(event.checkpoint_id)
                if checkpoint is None:
                    raise Poison(f"checkpoint {event.checkpoint_id} is not in the registry")
                record = ChampionRecord(
                    checkpoint_id=event.checkpoint_id, specialist=event.specialist, adapter=checkpoint.adapter,
                    overall=event.candidate_overall, categories=event.candidate, promoted_at=utcnow(),
                )
                new_revision = await registry.set_champion(record, revision)  # RegistryConflict: retried
            if serving is not None:
                await _serve(bus, registry, common, serving, record, new_revision)
            metrics.PROMOTIONS.labels(event.specialist).inc()
        else:
            metrics.REJECTIONS.labels(event.specialist).inc()

        announcement = _announce(event, promote, reasons, decision.weak_categories, current_id)
        await registry.mark("decision", event.checkpoint_id, announcement.model_dump_json().encode())
        await bus.publish(announcement)
        log.info("%s %s: %s", "PROMOTED" if promote else "REJECTED", event.checkpoint_id, "; ".join(reasons))
        if not promote:
            await feedback(event, decision.weak_categories)

    spec = ConsumerSpec(durable="promoter", subjects=(Subject.EVAL_COMPLETED,), ack_wait=settings.ack_wait)
    async def on_rollback(record: ChampionRecord, revision: int) -> None:
        if serving is not None:
            await _serve(bus, registry, common, serving, record, revision)

    watch_rollbacks(registry, on_rollback)
    return [(spec, on_eval)]


def watch_rollbacks(
    registry: Registry, on_rollback: Callable[[ChampionRecord, int], Awaitable[None]]
) -> asyncio.Task[None]:
    """`ouro rollback` (a short-lived CLI) changes only the registry: here, where /metrics is served
    and vLLM is known, a rollback is counted and the restored adapter put back into serving."""

    async def watch() -> None:
        watcher = await registry.kv.watch("champion.*")
        seen_current = False
        async for entry in watcher:
            if entry is None:  # the end of the current values: what follows is new
                seen_current = True
                continue
            if not seen_current or not entry.value:
                continue
            record = ChampionRecord.model_validate_json(entry.value)
            if record.reason == "rollback":
                metrics.ROLLBACKS.labels(record.specialist).inc()
                log.warning("champion of %s rolled back to %s", record.specialist, record.checkpoint_id)
                try:
                    await on_rollback(record, entry.revision)
                except Exception:  # noqa: BLE001 - keep watching; the log says serving is stale
                    log.exception("could not serve the rolled-back champion %s", record.checkpoint_id)

    return asyncio.create_task(watch())


async def _serve(bus: Bus, registry: Registry, common: CommonSettings, serving: VllmServing,
                 record: ChampionRecord, revision: int) -> None:
    """Load the new champion under an immutable versioned name, then flip the alias to it."""
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    target = (common.data_dir / "serving" / f"{record.specialist}-v{revision}").resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
            await get_dir(store, record.adapter, Path(tmp) / "adapter")
            (Path(tmp) / "adapter").rename(target)
    alias = f"serving.{record.specialist}"
    previous = await registry.marked("alias", alias)
    if previous is not None and previous.decode() == target.name:
        return  # resumed after the swap was done
    await serving.swap(target.name, target, previous.decode() if previous else None)
    await registry.mark("alias", alias, target.name.encode())
