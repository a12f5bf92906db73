"""Every candidate is also scored against the champion on the general held-out set, and
eval.completed carries that paired comparison (the promoter's forgetting gate reads it), the
intervals per category, and a per-prompt report in the artifact store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.evaluator.service import setup
from services.evaluator.settings import EvaluatorSettings
from shared.bus import Bus
from shared.events import EvalCompleted
from shared.registry import REGISTRY_BUCKET
from shared.settings import CommonSettings
from shared.store import ARTIFACT_BUCKET, NatsArtifactStore
from tests.busutil import events_of, fresh_bucket, serving
from tests.support.checkpoints import announce_checkpoint, tiny_adapter


def _suite(root: Path, name: str, n: int) -> Path:
    d = root / name
    d.mkdir(parents=True)
    rows = [{"id": f"{name}-{i}", "category": "arith", "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
             "scorer": {"type": "numeric", "expected": 2 * i}} for i in range(n)]
    (d / "arith.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


@pytest.fixture
async def evaluator(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    await fresh_bucket(bus, REGISTRY_BUCKET)
    settings = EvaluatorSettings(ack_wait=10, suite=str(_suite(tmp_path, "own", 4)), max_new_tokens=4,
                                 general_suite=str(_suite(tmp_path, "general", 6)))
    async with serving(bus, await setup(bus, CommonSettings(data_dir=tmp_path / "data"), settings)):
        yield


async def test_the_general_set_and_the_statistics_travel_with_the_scores(
    bus: Bus, evaluator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    adapter = tiny_adapter(tiny_model_dir, tmp_path / "adapter")
    cid, cycle = await announce_checkpoint(bus, adapter, tiny_model_dir, "reasoner")
    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    events = await events_of(bus, cycle, 3, timeout=120, until=(EvalCompleted,))
    result = next(e for e in events if isinstance(e, EvalCompleted) and e.checkpoint_id == cid)
    assert result.general is not None and result.general.n == 6  # the general set, paired
    assert result.stats is not None and result.stats.overall.n == 4 and result.stats.candidate["arith"].n == 4
    arith = result.stats.candidate["arith"]
    assert arith.ci_low <= result.candidate["arith"] <= arith.ci_high
    report = json.loads((await store.get_file(result.report, tmp_path / "report.json")).read_text())
    assert [i["id"] for i in report["candidate"]["items"]] == [f"own-{i}" for i in range(4)]
    assert len(report["champion"]["items"]) == 4


async def test_the_base_model_is_a_reference_of_its_own_once_a_champion_exists(
    bus: Bus, evaluator, tiny_model_dir: Path, tmp_path: Path
) -> None:
    """With an adapter as champion, the bare base model is scored too (for the relative gate and
    forgetting vs the base): eval.completed carries candidate − base on the suite and on the
    general set, and the report holds the base model's own answers."""
    from prometheus_client import REGISTRY

    from services.evaluator.backends import TransformersBackend
    from services.evaluator.suites import load_suite
    from shared.events import utcnow
    from shared.registry import ChampionRecord, Registry
    from shared.store import put_dir

    store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
    registry = Registry(await bus.kv(REGISTRY_BUCKET))
    champ_adapter = tiny_adapter(tiny_model_dir, tmp_path / "champion", r=8)
    ref = await put_dir(store, "adapters/test/the-champion", champ_adapter)
    _, rev = await registry.champion("reasoner")
    await registry.set_champion(ChampionRecord(checkpoint_id="the-champion", specialist="reasoner", adapter=ref,
                                               overall=0.0, categories={}, promoted_at=utcnow()), rev)
    adapter = tiny_adapter(tiny_model_dir, tmp_path / "adapter")
    cid, cycle = await announce_checkpoint(bus, adapter, tiny_model_dir, "reasoner")
    events = await events_of(bus, cycle, 3, timeout=180, until=(EvalCompleted,))
    result = next(e for e in events if isinstance(e, EvalCompleted) and e.checkpoint_id == cid)
    assert result.champion_id == "the-champion"
    assert result.base_overall is not None and result.vs_base is not None and result.vs_base.n == 4
    assert result.general is not None and result.general_base is not None and result.general_base.n == 6
    report = json.loads((await store.get_file(result.report, tmp_path / "report.json")).read_text())
    suite = load_suite(str(tmp_path / "own"))
    bare = TransformersBackend(tiny_model_dir, None).generate([i.chat() for i in suite.items], 4)
    assert [i["output"] for i in report["base"]["items"]] == bare
    # the score gauges come with their intervals
    labels = {"specialist": "reasoner", "category": "arith", "model": "candidate"}
    low = REGISTRY.get_sample_value("ouro_eval_score_low", labels)
    high = REGISTRY.get_sample_value("ouro_eval_score_high", labels)
    assert low is not None and high is not None
    assert low <= REGISTRY.get_sample_value("ouro_eval_score", labels) <= high
