"""Evaluator bus adapter: checkpoint.ready → candidate and champion on the same prompts → eval.completed.

Generation runs in a worker thread (torch releases the GIL), so heartbeats keep flowing. The
result is recorded in the registry under the checkpoint before it is announced with an id
derived from (cycle, checkpoint): a redelivery re-announces it and JetStream drops the copy, so
a checkpoint gets exactly one eval.completed even when the evaluator is killed mid-way. The
champion's and the bare base model's scores are cached per (model, suite version, base model):
greedy decoding of the same prompts gives the same answers, so there is no need to score them
every cycle. The base model is the reference of the relative gate and of the second forgetting
check; while it is the champion, its scores are the champion's. `llm_judge` items are also
judged pairwise, candidate against champion in both orders (pairwise.py); judge verdicts are
cached on disk (verdict_cache.py, `<data_dir>/judge/verdicts.sqlite`).

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
from services.evaluator.pairwise import PairwiseResult, judge_pairs
from services.evaluator.settings import EvaluatorSettings
from services.evaluator.suites import Suite, SuiteError, load_suite
from services.evaluator.verdict_cache import CachedJudge, VerdictCache
from shared import metrics
from shared.bus import Bus, Consumer, Delivery
from shared.events import CheckpointReady, EvalCompleted, Progress, content_hash, derived_id
from shared.models import resolve_base_model
from shared.progress import publish_progress
from shared.registry import REGISTRY_BUCKET, Registry
from shared.service import ServiceTable
from shared.settings import CommonSettings, secret_value
from shared.specialists import profile
from shared.stats import EvalStats, compare_scores
from shared.store import ARTIFACT_BUCKET, ArtifactStore, NatsArtifactStore, get_dir
from shared.suites import LlmJudgeSpec
from shared.vllm import LoraClient

log = logging.getLogger("ouro.evaluator")


def api_key(settings: EvaluatorSettings) -> str:
    """vLLM's --api-key for the endpoint and the judge ("" when the server has none)."""
    return secret_value(settings.endpoint_api_key, settings.endpoint_api_key_file)


def judge_backend(settings: EvaluatorSettings, base_dir: Path | None,
                  cache: VerdictCache | None = None) -> Backend | None:
    """Who grades `llm_judge` items: the configured judge endpoint, else the base model itself;
    behind the verdict cache when one is given (keyed by the judge's name)."""
    if settings.judge_url:
        backend: Backend = OpenAIBackend(settings.judge_url, model=settings.judge_model, api_key=api_key(settings))
        name = f"{settings.judge_model}@{settings.judge_url}"
    elif settings.endpoint:
        backend = OpenAIBackend(settings.endpoint, model=settings.endpoint_base_model, api_key=api_key(settings))
        name = f"{settings.endpoint_base_model}@{settings.endpoint}"
    elif base_dir:
        backend, name = TransformersBackend(base_dir, None, batch_size=settings.batch_size), str(base_dir)
    else:
        return None
    return CachedJudge(backend, name, cache) if cache is not None else backend


def judged(suite: Suite) -> bool:
    return any(isinstance(i.scorer, LlmJudgeSpec) for i in suite.items)


def score(base_dir: Path | None, adapter_dir: Path | None, suite: Suite, settings: EvaluatorSettings,
          cache: VerdictCache | None = None) -> SuiteResult:
    backend = TransformersBackend(base_dir, adapter_dir, batch_size=settings.batch_size)
    judge = judge_backend(settings, base_dir, cache) if judged(suite) else None
    return evaluate(backend, suite, max_new_tokens=settings.max_new_tokens, judge=judge)


def paired_stats(candidate: SuiteResult, champion: SuiteResult, confidence: float,
                 pairwise: PairwiseResult | None = None) -> EvalStats:
    """Per category, the prompts both models could be scored on, in the same order. The intervals
    of each model are over its own scores; with `pairwise`, the paired comparison of a judged item
    is the judge's two-order preference p (candidate (1 + p) / 2 against champion (1 - p) / 2), and
    a judged item whose pairwise verdict did not parse is left out of it."""
    theirs = {r.id: r for r in champion.items if r.scored}
    cand: dict[str, list[float]] = {}
    champ: dict[str, list[float]] = {}
    pair_cand: dict[str, list[float]] = {}
    pair_champ: dict[str, list[float]] = {}
    for r in candidate.items:
        both = r.scored and r.id in theirs
        if both:
            cand.setdefault(r.category, []).append(r.score)
            champ.setdefault(r.category, []).append(theirs[r.id].score)
        if pairwise is not None and r.id in pairwise.preferences:
            p = pairwise.preferences[r.id]
            pair_cand.setdefault(r.category, []).append((1 + p) / 2)
            pair_champ.setdefault(r.category, []).append((1 - p) / 2)
        elif pairwise is not None and r.id not in pairwise.notes and both:
            pair_cand.setdefault(r.category, []).append(r.score)
            pair_champ.setdefault(r.category, []).append(theirs[r.id].score)
    stats = compare_scores(cand, champ, confidence)
    if pairwise is None or not (pairwise.preferences or pairwise.notes):
        return stats
    compared = compare_scores(pair_cand, pair_champ, confidence)
    return stats.model_copy(update={"paired": compared.paired, "overall": compared.overall})


async def score_at_endpoint(
    name: str, adapter_dir: Path | None, suite: Suite, settings: EvaluatorSettings, cache: VerdictCache | None = None
) -> SuiteResult:
    """Generate with the OpenAI-compatible server: the adapter loaded under `name` for the run."""
    client = LoraClient(settings.endpoint, api_key=api_key(settings))
    model = settings.endpoint_base_model
    if adapter_dir is not None:
        await client.load(name, adapter_dir)
        model = name
    try:
        backend = OpenAIBackend(settings.endpoint, model=model, api_key=api_key(settings))
        judge = judge_backend(settings, None, cache) if judged(suite) else None
        return await asyncio.to_thread(evaluate, backend, suite, max_new_tokens=settings.max_new_tokens, judge=judge)
    finally:
        if adapter_dir is not None:
            await client.unload(name)


class Evaluator:
    def __init__(self, bus: Bus, registry: Registry, store: ArtifactStore, common: CommonSettings,
                 settings: EvaluatorSettings) -> None:
        self.bus, self.registry, self.store, self.common, self.settings = bus, registry, store, common, settings
        self.verdicts = VerdictCache(common.data_dir / "judge" / "verdicts.sqlite")

    async def on_checkpoint(self, event: CheckpointReady, delivery: Delivery) -> None:
        bus, registry, store, common, settings = self.bus, self.registry, self.store, self.common, self.settings
        event_id = derived_id("eval", event.cycle_id, event.checkpoint_id)
        recorded = await registry.marked("eval", event.checkpoint_id)
        if recorded is not None:
            log.info("checkpoint %s was evaluated already: re-announcing", event.checkpoint_id)
            old = EvalCompleted.model_validate_json(recorded)
            await bus.publish(old.model_copy(update={"cycle_id": event.cycle_id, "event_id": event_id}))
            return

        suite = load_suite(settings.suite or profile(event.specialist).suite_dir).head(settings.max_per_category)
        base_dir = (None if settings.endpoint
                    else await asyncio.to_thread(resolve_base_model, event.base_model, common.data_dir))
        champion, _ = await registry.champion(event.specialist)
        # With an endpoint the server reads the adapters: keep them where it can (<data_dir>/serving).
        work_root = common.data_dir / ("serving" if settings.endpoint else "tmp")
        work_root.mkdir(parents=True, exist_ok=True)

        async def run(name: str, adapter_dir: Path | None, on: Suite) -> SuiteResult:
            if settings.endpoint:
                return await score_at_endpoint(name, adapter_dir, on, settings, self.verdicts)
            return await asyncio.to_thread(score, base_dir, adapter_dir, on, settings, self.verdicts)

        general = None
        if settings.general_suite:
            try:
                general = load_suite(settings.general_suite).head(settings.max_per_category)
            except SuiteError as err:
                log.warning("no general held-out set, so no forgetting check: %s", err)

        with tempfile.TemporaryDirectory(dir=work_root.resolve()) as tmp:
            candidate_dir = await get_dir(store, event.adapter, Path(tmp) / "candidate")
            champion_name = champion.checkpoint_id if champion else "base"
            champion_dir: Path | None = None
            # Names unique per evaluation: a crashed run's leftover or a second evaluator never collides.
            run_tag = uuid.uuid4().hex[:8]

            async def tell(on: Suite, done: int, what: str) -> None:  # live progress (shared/progress.py)
                await publish_progress(bus, Progress(cycle_id=event.cycle_id, specialist=event.specialist,
                                                     stage="evaluate", step=done, total=len(on.items), what=what))

            async def reference(on: Suite, name: str) -> SuiteResult:
                """The champion ("base": the bare base model) on `on`, cached per (model, suite
                version, base model, generation settings)."""
                nonlocal champion_dir
                cache_key = content_hash([name, on.version[:16], event.base_model, settings.max_new_tokens,
                                          settings.endpoint or "in-process"])[:32]
                cached = await registry.marked("evalcache", cache_key)
                if cached is not None:
                    return SuiteResult.model_validate_json(cached)
                adapter_dir = None
                if name != "base":
                    if champion_dir is None and champion is not None:
                        champion_dir = await get_dir(store, champion.adapter, Path(tmp) / "champion")
                    adapter_dir = champion_dir
                who = "champion" if name == champion_name else "base model"
                log.info("evaluating %s %s on the same prompts", who, name)
                await tell(on, 0, who)
                result = await run(f"ref-{name[:16]}-{run_tag}", adapter_dir, on)
                await tell(on, len(on.items), who)
                await registry.mark("evalcache", cache_key, result.model_dump_json().encode())
                return result

            async def against(on: Suite) -> tuple[SuiteResult, SuiteResult, SuiteResult]:
                """Candidate, champion and base model on the same prompts (while the base model is
                champion, the champion's result is the base's)."""
                log.info("evaluating checkpoint %s on suite %s (%d prompts)", event.checkpoint_id, on.name,
                         len(on.items))
                await tell(on, 0, "candidate")
                cand = await run(f"candidate-{event.checkpoint_id[:16]}-{run_tag}", candidate_dir, on)
                await tell(on, len(on.items), "candidate")
                champ = await reference(on, champion_name)
                base = champ if champion is None else await reference(on, "base")
                return cand, champ, base

            candidate, champion_result, base_result = await against(suite)
            pairwise = None
            if judged(suite):
                judge = (judge_backend(settings, None, self.verdicts) if settings.endpoint
                         else await asyncio.to_thread(judge_backend, settings, base_dir, self.verdicts))
                if judge is not None:
                    pairwise = await asyncio.to_thread(judge_pairs, judge, suite, candidate, champion_result)
            forgetting = forgetting_base = None
            if general is not None:
                g_cand, g_champ, g_base = await against(general)
                forgetting = (await asyncio.to_thread(paired_stats, g_cand, g_champ, settings.confidence)).overall
                forgetting_base = (forgetting if champion is None else
                                   (await asyncio.to_thread(paired_stats, g_cand, g_base, settings.confidence)).overall)

        stats = await asyncio.to_thread(paired_stats, candidate, champion_result, settings.confidence, pairwise)
        vs_base = (stats.overall if champion is None else
                   (await asyncio.to_thread(paired_stats, candidate, base_result, settings.confidence)).overall)
        for cat, value in candidate.categories.items():
            for model, score_, interval in (("candidate", value, stats.candidate.get(cat)),
                                            ("champion", champion_result.categories[cat], stats.champion.get(cat))):
                metrics.EVAL_SCORE.labels(event.specialist, cat, model).set(score_)
                if interval is not None:  # the interval of the same score (bootstrap over its prompts)
                    metrics.EVAL_SCORE_LOW.labels(event.specialist, cat, model).set(interval.ci_low)
                    metrics.EVAL_SCORE_HIGH.labels(event.specialist, cat, model).set(interval.ci_high)
        unscored = dict(candidate.unscored)
        for reason, n in (pairwise.unscored if pairwise else {}).items():
            unscored[reason] = unscored.get(reason, 0) + n
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.json"
            path.write_text(json.dumps({"suite": suite.name, "suite_version": suite.version,
                                        "candidate": candidate.model_dump(mode="json"),
                                        "champion": champion_result.model_dump(mode="json"),
                                        "base": base_result.model_dump(mode="json"),
                                        "pairwise": pairwise.model_dump(mode="json") if pairwise else None,
                                        "stats": stats.model_dump(mode="json")}))
            report = await store.put_file(f"evals/{event.specialist}/{event.checkpoint_id}.json", path)
        result = EvalCompleted(
            event_id=event_id, cycle_id=event.cycle_id, specialist=event.specialist,
            checkpoint_id=event.checkpoint_id, suite=suite.name, suite_version=suite.version,
            prompts=len(suite.items),
            candidate=candidate.categories, candidate_overall=candidate.overall,
            champion_id=champion.checkpoint_id if champion else None,
            champion=champion_result.categories, champion_overall=champion_result.overall,
            stats=stats, general=forgetting, base_overall=base_result.overall, vs_base=vs_base,
            general_base=forgetting_base, report=report, unscored=unscored,
        )
        await registry.mark("eval", event.checkpoint_id, result.model_dump_json().encode())
        await bus.publish(result)
        log.info("checkpoint %s: %.3f vs champion %.3f (paired difference %+.3f, %.0f%% interval %+.3f..%+.3f, "
                 "n=%d; unscored %s)", event.checkpoint_id, candidate.overall, champion_result.overall,
                 stats.overall.diff, 100 * stats.confidence, stats.overall.ci_low, stats.overall.ci_high,
                 stats.overall.n, unscored or "none")



async def setup(bus: Bus, common: CommonSettings | None = None,
                settings: EvaluatorSettings | None = None) -> ServiceTable:
    settings = settings or EvaluatorSettings()
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    e = Evaluator(bus, Registry(await bus.kv(REGISTRY_BUCKET)), store, common or CommonSettings(), settings)
    return ServiceTable(consumers=[
        Consumer("evaluator", {CheckpointReady: e.on_checkpoint}, ack_wait=settings.ack_wait, max_ack_pending=8),
    ])
