"""Promoter bus adapter: eval.completed → policy → registry CAS → model.promoted | model.rejected.

Idempotent: the decision for a checkpoint is recorded in the registry before it is announced,
and announced under an id derived from (cycle, checkpoint), so a redelivery republishes the
same event (dropped by JetStream's dedup) and never promotes twice. The decision itself is the
core's (`policy.settle`); this module reads and writes the registry and the bus around it.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from services.promoter.policy import Policy, announcement, settle
from services.promoter.serving import VllmServing
from services.promoter.settings import PromoterSettings
from shared import metrics
from shared.bus import Bus, Consumer, Delivery, Poison
from shared.events import EvalCompleted, HarvestRequested, ModelRejected, derived_id, utcnow
from shared.registry import REGISTRY_BUCKET, ChampionRecord, Registry
from shared.service import ServiceTable
from shared.settings import CommonSettings, secret_value
from shared.specialists import profile
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir

log = logging.getLogger("ouro.promoter")


class Promoter:
    def __init__(self, bus: Bus, registry: Registry, common: CommonSettings, settings: PromoterSettings) -> None:
        self.bus, self.registry, self.common, self.settings = bus, registry, common, settings
        self.serving = (VllmServing(settings.vllm_url, api_key=secret_value(settings.vllm_api_key,
                                                                          settings.vllm_api_key_file))
                        if settings.vllm_url else None)

    def policy(self, specialist: str) -> Policy:
        s = self.settings
        return Policy.from_profile(profile(specialist), min_overall=s.min_overall, min_category=s.min_category,
                                   must_beat_champion=s.must_beat_champion, gate=s.gate,
                                   min_over_base=s.min_over_base, margin=s.margin, alpha=s.alpha,
                                   forgetting_margin=s.forgetting_margin)

    async def feedback(self, event: EvalCompleted, weak: tuple[str, ...]) -> None:
        if weak:
            await self.bus.publish(HarvestRequested(
                event_id=derived_id("feedback", event.cycle_id, event.checkpoint_id),
                cycle_id=event.cycle_id, specialist=event.specialist, reason="feedback", weak_categories=weak,
            ))

    async def on_eval(self, event: EvalCompleted, delivery: Delivery) -> None:
        recorded = await self.registry.decision(event.checkpoint_id)
        if recorded is not None:
            # Decided before (a redelivery or a replay): say it again, change nothing. Both
            # announcements carry derived ids, so JetStream drops them if they went out already.
            log.info("decision for %s already made; re-announcing", event.checkpoint_id)
            await self.bus.publish(recorded.model_copy(update={
                "cycle_id": event.cycle_id, "event_id": derived_id("decision", event.cycle_id, event.checkpoint_id),
            }))
            if isinstance(recorded, ModelRejected):
                await self.feedback(event, recorded.weak_categories)
            return

        current, revision = await self.registry.champion(event.specialist)
        outcome = settle(self.policy(event.specialist), event, current.checkpoint_id if current else None)
        if outcome.promote:
            if outcome.resumed and current is not None:
                record, new_revision = current, revision
            else:
                checkpoint = await self.registry.checkpoint(event.checkpoint_id)
                if checkpoint is None:
                    raise Poison(f"checkpoint {event.checkpoint_id} is not in the registry")
                record = ChampionRecord(
                    checkpoint_id=event.checkpoint_id, specialist=event.specialist, adapter=checkpoint.adapter,
                    overall=event.candidate_overall, categories=event.candidate, promoted_at=utcnow(),
                )
                new_revision = await self.registry.set_champion(record, revision)  # RegistryConflict: retried
            if self.serving is not None:
                await self.serve(record, new_revision)
            metrics.PROMOTIONS.labels(event.specialist).inc()
        else:
            metrics.REJECTIONS.labels(event.specialist).inc()

        decision = announcement(event, outcome)
        await self.registry.record_decision(decision)
        # the specialist's latest decision, for `ouro status` (within the promoter's done.decision.> keys)
        await self.registry.mark("decision", f"last-{event.specialist}", decision.model_dump_json().encode())
        await self.bus.publish(decision)
        log.info("%s %s: %s", "PROMOTED" if outcome.promote else "REJECTED", event.checkpoint_id,
                 "; ".join(outcome.reasons))
        if not outcome.promote:
            await self.feedback(event, outcome.weak_categories)

    async def watch_rollbacks(self) -> None:
        """`ouro rollback` (a short-lived CLI) changes only the registry: here, where /metrics is served
        and vLLM is known, a rollback is counted and the restored adapter put back into serving."""
        watcher = await self.registry.kv.watch("champion.*")
        seen_current = False
        async for entry in watcher:
            if entry is None:  # the end of the current values: what follows is new
                seen_current = True
                continue
            if not seen_current or not entry.value:
                continue
            record = ChampionRecord.model_validate_json(entry.value)
            if record.reason != "rollback":
                continue
            metrics.ROLLBACKS.labels(record.specialist).inc()
            log.warning("champion of %s rolled back to %s", record.specialist, record.checkpoint_id)
            if self.serving is None:
                continue
            try:
                await self.serve(record, entry.revision)
            except Exception:  # noqa: BLE001 - keep watching; the log says serving is stale
                log.exception("could not serve the rolled-back champion %s", record.checkpoint_id)

    async def serve(self, record: ChampionRecord, revision: int) -> None:
        """Load the new champion under an immutable versioned name, then flip the alias to it."""
        assert self.serving is not None
        store = NatsArtifactStore(await self.bus.object_store(ARTIFACT_BUCKET))
        target = (self.common.data_dir / "serving" / f"{record.specialist}-v{revision}").resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
                await get_dir(store, record.adapter, Path(tmp) / "adapter")
                (Path(tmp) / "adapter").rename(target)
        alias = f"serving.{record.specialist}"
        previous = await self.registry.marked("alias", alias)
        if previous is not None and previous.decode() == target.name:
            return  # resumed after the swap was done
        await self.serving.swap(target.name, target, previous.decode() if previous else None)
        await self.registry.mark("alias", alias, target.name.encode())


async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: PromoterSettings | None = None) -> ServiceTable:
    settings = settings or PromoterSettings()
    p = Promoter(bus, Registry(await bus.kv(REGISTRY_BUCKET)), common or CommonSettings(), settings)
    return ServiceTable(
        consumers=[Consumer("promoter", {EvalCompleted: p.on_eval}, ack_wait=settings.ack_wait)],
        background=[p.watch_rollbacks],
    )
