"""Evaluator bus adapter: checkpoint.ready → candidate and champion on the same prompts → eval.completed.

Generation runs in a worker thread (torch releases the GIL), so heartbeats keep flowing. The
result is recorded in the registry under the checkpoint before it is announced with an id
derived from (cycle, checkpoint): a redelivery re-announces it and JetStream drops the copy, so
a checkpoint gets exactly one eval.completed even when the evaluator is killed mid-way. The
champion's scores are cached per (champion, suite, base model): greedy decoding of the same
prompts gives the same answers, so there is no need to score the champion every cycle.

Generation runs in-process (transformers, batched) or, with OURO_EVALUATOR_ENDPOINT, on an
OpenAI-compatible server with runtime LoRA (vLLM): each adapter is loaded for its evaluation
under a name of its own and unloaded afterwards.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import uuid
from pathlib import Path

from services.evaluator.backends import Backend, OpenAIBackend, TransformersBackend
from services.evaluator.evaluate import SuiteResult, evaluate
from services.evaluator.settings import EvaluatorSettings
from services.evaluator.suites import Suite, SuiteError, load_suite
from shared import metrics
from shared.bus import Bus, Consumer, Delivery
from shared.events import CheckpointReady, EvalCompleted, content_hash, derived_id
from shared.models import resolve_base_model
from shared.registry import REGISTRY_BUCKET, Registry
from shared.service import ServiceTable
from shared.settings import CommonSettings
from shared.specialists import profile
from shared.stats import EvalStats, compare_scores
from shared.store import ARTIFACT_BUCKET, ArtifactStore, NatsArtifactStore, get_dir
from shared.vllm import LoraClient

log = logging.getLogger("ouro.evaluator")


def judge_backend(settings: EvaluatorSettings, base_dir: Path | None) -> Backend | None:
    """Who grades `llm_judge` items: the configured judge endpoint, else the base model itself."""
    if settings.judge_url:
        return OpenAIBackend(settings.judge_url, model=settings.judge_model)
    if settings.endpoint:
        return OpenAIBackend(settings.endpoint, model=settings.endpoint_base_model)
    return TransformersBackend(base_dir, None, batch_size=settings.batch_size) if base_dir else None


def score(base_dir: Path | None, adapter_dir: Path | None, suite: Suite, settings: EvaluatorSettings) -> SuiteResult:
    backend = TransformersBackend(base_dir, adapter_dir, batch_size=settings.batch_size)
    judge = judge_backend(settings, base_dir) if any(i.scorer.type == "llm_judge" for i in suite.items) else None
    return evaluate(backend, suite, max_new_tokens=settings.max_new_tokens, judge=judge)


def paired_stats(candidate: SuiteResult, champion: SuiteResult, confidence: float) -> EvalStats:
    """Per category, the prompts both models could be scored on, in the same order."""
    theirs = {r.id: r for r in champion.items if r.scored}
    cand: dict[str, list[float]] = {}
    champ: dict[str, list[float]] = {}
    for r in candidate.items:
        if r.scored and r.id in theirs:
            cand.setdefault(r.category, []).append(r.score)
            champ.setdefault(r.category, []).append(theirs[r.id].score)
    return compare_scores(cand, champ, confidence)


async def score_at_endpoint(
    name: str, adapter_dir: Path | None, suite: Suite, settings: EvaluatorSettings
) -> SuiteResult:
    """Generate with the OpenAI-compatible server: the adapter loaded under `name` for the run."""
    client = LoraClient(settings.endpoint)
    model = settings.endpoint_base_model
    if adapter_dir is not None:
        await client.load(name, adapter_dir)
        model = name
    try:
        backend = OpenAIBackend(settings.endpoint, model=model)
        judge = judge_backend(settings, None)
        return await asyncio.to_thread(evaluate, backend, suite, max_new_tokens=settings.max_new_tokens, judge=judge)
    finally:
        if adapter_dir is not None:
            await client.unload(name)


class Evaluator:
    def __init__(self, bus: Bus, registry: Registry, store: ArtifactStore, common: CommonSettings,
                 settings: EvaluatorSettings) -> None:
        self.bus, self.registry, self.store, self.common, self.settings = bus, registry, store, common, settings

    async def on_checkpoint(self, event: CheckpointReady, delivery: Delivery) -> None:
        bus, registry, store, common, settings = self.bus, self.registry, self.store, self.common, self.settings
        event_id = derived_id("eval", event.cycle_id, event.checkpoint_id)
        recorded = await registry.marked("eval", event.checkpoint_id)
        if recorded is not None:
            log.info("checkpoint %s was evaluated already: re-announcing", event.checkpoint_id)
            old = EvalCompleted.model_validate_json(recorded)
            await bus.publish(old.model_copy(update={"cycle_id": event.cycle_id, "event_id": event_id}))
            return

        suite = load_suite(settings.suite or profile(event.specialist).suite_dir)
        base_dir = (None if settings.endpoint
                    else await asyncio.to_thread(resolve_base_model, event.base_model, common.data_dir))
        champion, _ = await registry.champion(event.specialist)
        # With an endpoint the server reads the adapters: keep them where it can (<data_dir>/serving).
        work_root = common.data_dir / ("serving" if settings.endpoint else "tmp")
        work_root.mkdir(parents=True, exist_ok=True)

        async def run(name: str, adapter_dir: Path | None, on: Suite) -> SuiteResult:
            if settings.endpoint:
                return await score_at_endpoint(name, adapter_dir, on, settings)
            return await asyncio.to_thread(score, base_dir, adapter_dir, on, settings)

        general = None
        if settings.general_suite:
            try:
                general = load_suite(settings.general_suite)
            except SuiteError as err:
                log.warning("no general held-out set, so no forgetting check: %s", err)

        with tempfile.TemporaryDirectory(dir=work_root.resolve()) as tmp:
            candidate_dir = await get_dir(store, event.adapter, Path(tmp) / "candidate")
            champion_name = champion.checkpoint_id if champion else "base"
            champion_dir: Path | None = None
            # Names unique per evaluation: a crashed run's leftover or a second evaluator never collides.
            run_tag = uuid.uuid4().hex[:8]

            async def both(on: Suite) -> tuple[SuiteResult, SuiteResult]:
                """Candidate and champion on the same prompts; the champion's result cached per
                (champion, suite version, base model, generation settings)."""
                nonlocal champion_dir
                log.info("evaluating checkpoint %s on suite %s (%d prompts)", event.checkpoint_id, on.name,
                         len(on.items))
                cand = await run(f"candidate-{event.checkpoint_id[:16]}-{run_tag}", candidate_dir, on)
                cache_key = content_hash([champion_name, on.version[:16], event.base_model, settings.max_new_tokens,
                                          settings.endpoint or "in-process"])[:32]
                cached = await registry.marked("evalcache", cache_key)
                if cached is not None:
                    return cand, SuiteResult.model_validate_json(cached)
                if champion and champion_dir is None:
                    champion_dir = await get_dir(store, champion.adapter, Path(tmp) / "champion")
                log.info("evaluating champion %s on the same prompts", champion_name)
                champ = await run(f"champion-{champion_name[:16]}-{run_tag}", champion_dir, on)
                await registry.mark("evalcache", cache_key, champ.model_dump_json().encode())
                return cand, champ

            candidate, champion_result = await both(suite)
            forgetting = None
            if general is not None:
                g_cand, g_champ = await both(general)
                forgetting = (await asyncio.to_thread(paired_stats, g_cand, g_champ, settings.confidence)).overall

        for cat, value in candidate.categories.items():
            metrics.EVAL_SCORE.labels(event.specialist, cat, "candidate").set(value)
            metrics.EVAL_SCORE.labels(event.specialist, cat, "champion").set(champion_result.categories[cat])
        stats = await asyncio.to_thread(paired_stats, candidate, champion_result, settings.confidence)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.json"
            path.write_text(json.dumps({"suite": suite.name, "suite_version": suite.version,
                                        "candidate": candidate.model_dump(mode="json"),
                                        "champion": champion_result.model_dump(mode="json"),
                                        "stats": stats.model_dump(mode="json")}))
            report = await store.put_file(f"evals/{event.specialist}/{event.checkpoint_id}.json", path)
        result = EvalCompleted(
            event_id=event_id, cycle_id=event.cycle_id, specialist=event.specialist,
            checkpoint_id=event.checkpoint_id, suite=suite.name, suite_version=suite.version,
            prompts=len(suite.items),
            candidate=candidate.categories, candidate_overall=candidate.overall,
            champion_id=champion.checkpoint_id if champion else None,
            champion=champion_result.categories, champion_overall=champion_result.overall,
            stats=stats, general=forgetting, report=report, unscored=candidate.unscored,
        )
        await registry.mark("eval", event.checkpoint_id, result.model_dump_json().encode())
        await bus.publish(result)
        log.info("checkpoint %s: %.3f vs champion %.3f (paired difference %+.3f, %.0f%% interval %+.3f..%+.3f, "
                 "n=%d; unscored %s)", event.checkpoint_id, candidate.overall, champion_result.overall,
                 stats.overall.diff, 100 * stats.confidence, stats.overall.ci_low, stats.overall.ci_high,
                 stats.overall.n, candidate.unscored or "none")



async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: EvaluatorSettings | None = None) -> ServiceTable:
    settings = settings or EvaluatorSettings()
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    e = Evaluator(bus, Registry(await bus.kv(REGISTRY_BUCKET)), store, common or CommonSettings(), settings)
    return ServiceTable(consumers=[
        Consumer("evaluator", {CheckpointReady: e.on_checkpoint}, ack_wait=settings.ack_wait, max_ack_pending=8),
    ])
