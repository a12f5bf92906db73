"""Self-description: the loop's own record (registry, decisions, corpus; before a promotion the
specialist file and the base model's config) → answers that state only facts from that record."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from services.harvester.base import Context, Skips
from services.harvester.core import harvest
from services.harvester.generators.self_description import SelfDescription
from services.harvester.plan import HarvestPlan, config_record
from services.harvester.service import HARVESTER_BUCKET, Harvester
from services.harvester.settings import HarvesterSettings
from shared.bus import Bus
from shared.events import ArtifactRef, ModelPromoted
from shared.registry import REGISTRY_BUCKET, ChampionRecord, Registry
from shared.settings import CommonSettings
from tests.busutil import fresh_bucket

from .conftest import RepoBuilder


def answers(plan: HarvestPlan) -> dict[str, tuple[str, str]]:
    """question -> (system message = the record, answer)"""
    ctx = Context(plan=plan, skips=Skips())
    return {d.prompt: (d.messages[0][1], d.answer) for d in SelfDescription().run(ctx)}


def numbers(text: str) -> set[str]:
    return set(re.findall(r"\d+(?:\.\d+)?", text))


def test_before_the_first_promotion_it_says_so_from_the_config_and_model_card(tiny_model_dir: Path) -> None:
    record = config_record("orchestrator", "tiny-llama", tiny_model_dir)
    got = answers(HarvestPlan(specialist="orchestrator", sessions=Path("."), record=record))
    system, version = got["Which version are you?"]
    assert "no version of me has been promoted yet" in version and "tiny-llama" in version
    layers = json.loads((tiny_model_dir / "config.json").read_text())["num_hidden_layers"]
    assert f"{layers} layers" in version  # from the base model's card
    assert "cannot say from measurement" in got["Where are you weak?"][1]
    assert got["What changed at your last promotion?"][1].startswith("Nothing has changed yet")
    # every number an answer states is in the record it was given
    for sys_msg, ans in got.values():
        assert numbers(ans) <= numbers(sys_msg), ans


def test_offline_harvest_feeds_consciousness_articulation_only_where_mapped(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("init", {"README.md": "# x\n"})
    from services.harvester.plan import build_plan

    plan, _ = build_plan("orchestrator", HarvesterSettings(tool_specs=[]), repo=repo_builder.root)
    assert plan.record is not None and plan.record.champion is None  # ouro harvest: config only
    mine = [e for e in harvest(plan).examples if e.generator == "self_description"]
    assert len(mine) >= 5 and {e.category for e in mine} == {"consciousness_articulation"}
    coder, _ = build_plan("coder", HarvesterSettings(tool_specs=[]), repo=repo_builder.root)
    assert harvest(coder).skipped["self_description:not_for_coder"] >= 5


async def test_the_service_builds_the_record_from_the_registry_and_the_corpus(
        bus: Bus, tiny_model_dir: Path, tmp_path: Path, repo_builder: RepoBuilder) -> None:
    for b in (HARVESTER_BUCKET, REGISTRY_BUCKET, "ouro-judge"):
        await fresh_bucket(bus, b)
    reg = Registry(await bus.kv(REGISTRY_BUCKET))
    ref = ArtifactRef(name="adapters/x", sha256="0" * 64, size=1)
    first = ChampionRecord(checkpoint_id="orch-a1", specialist="orchestrator", adapter=ref, overall=0.31,
                           categories={"tool_use": 0.50, "affect_reasoning": 0.10},
                           promoted_at=datetime(2026, 11, 20, 3, 0, tzinfo=UTC))
    second = first.model_copy(update={"checkpoint_id": "orch-b2", "overall": 0.44,
                                      "categories": {"tool_use": 0.62, "affect_reasoning": 0.18},
                                      "promoted_at": datetime(2026, 11, 27, 3, 0, tzinfo=UTC)})
    rev = await reg.set_champion(first, 0)
    await reg.set_champion(second, rev)
    await reg.record_decision(ModelPromoted(cycle_id="c", specialist="orchestrator", checkpoint_id="orch-b2",
                                            previous_champion="orch-a1", overall=0.44, categories=second.categories,
                                            reasons=("beats the champion by 0.13",)))
    judge = Registry(await bus.kv("ouro-judge"))
    await judge.mark("corpus", "orchestrator", json.dumps({"specialist": "orchestrator", "version": 7, "live": 2604,
                                                           "retired": 120, "ref": None}).encode())
    h = Harvester(bus, Registry(await bus.kv(HARVESTER_BUCKET)),
                  CommonSettings(base_model=str(tiny_model_dir), data_dir=tmp_path / "data"),
                  HarvesterSettings(tool_specs=[]))
    await h.state.mark("weak", "orchestrator", json.dumps(["affect_reasoning"]).encode())
    repo_builder.commit("init", {"README.md": "# x\n"})

    plan = await h.plan_for("orchestrator", str(repo_builder.root), None, ())
    got = answers(plan)
    assert got["Which version are you?"][1].startswith("I am the orchestrator specialist, checkpoint orch-b2")
    change = got["What changed at your last promotion?"][1]
    assert "replaced orch-a1: overall 0.31 → 0.44" in change and "affect_reasoning 0.10 → 0.18" in change
    assert "beats the champion by 0.13" in change
    weak = got["Where are you weak?"][1]
    assert weak.startswith("My lowest scores on my suite are affect_reasoning (0.18), tool_use (0.62)")
    assert "harvesting more data for affect_reasoning" in weak
    assert "2604 live examples (120 retired)" in got["How are you trained, and on how much data?"][1]
    for sys_msg, ans in got.values():
        assert numbers(ans) <= numbers(sys_msg), ans


def test_before_a_promotion_the_record_answers_thirty_distinct_questions_from_the_specialist_file(
        repo_builder: RepoBuilder, tiny_model_dir: Path) -> None:
    """The shipped orchestrator entry alone (no registry, no corpus) answers >= 30 questions: per
    category its share, the tasks feeding it and how the suite scores it; per specialist its
    cadence, routing, length band and starting point. The judge keeps them all (no near copies)."""
    from services.harvester.plan import build_plan
    from services.judge.dedup import deduplicate
    from shared.specialists import specialists

    repo_builder.commit("init", {"README.md": "# x\n"})
    plan, _ = build_plan("orchestrator", HarvesterSettings(tool_specs=[]), repo=repo_builder.root,
                         tokenizer_dir=tiny_model_dir)
    mine = [e for e in harvest(plan).examples if e.generator == "self_description"]
    kept, dropped = deduplicate(mine, None)
    assert len(kept) >= 30 and not dropped, [(d.messages[-1].content, why) for d, why, _ in dropped]
    got = answers(plan)
    prof = specialists().profiles["orchestrator"]
    # each category: the tasks of the specialist file that feed it, and its suite's size and scorer
    for cat in prof.categories:
        data = next(a for q, (_, a) in got.items() if re.search(rf"\b{cat}\b", q) and "harvest task" in a)
        assert all(t in data for t, c in prof.tasks.items() if c == cat), data
        n = sum(1 for ln in (prof.suite_dir / f"{cat}.jsonl").read_text().splitlines() if ln.strip())
        test = next(a for q, (_, a) in got.items() if re.search(rf"\b{cat}\b", q) and "evaluation suite" in a)
        assert f"has {n} {cat} prompts" in test
    assert "every 12 hours" in got["How often are you harvested and retrained?"][1]  # '0 */12 * * *'
    assert "every Sunday at 03:00 UTC" in got["How often are you harvested and retrained?"][1]
    assert "rated 1-6" in got["Which requests does the router send to you?"][1]
    assert "90 days" in got["How long do examples from operator sessions stay in your training data?"][1]
    # "how much data" with no corpus statistics: the record says it does not know, no invented count
    assert "no corpus statistics" in got["How are you trained, and on how much data?"][1]
    for sys_msg, ans in got.values():
        assert numbers(ans) <= numbers(sys_msg), ans
