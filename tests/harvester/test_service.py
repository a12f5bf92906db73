"""The harvester's bus adapter on a real nats-server: watermarks, feedback, triggers, bad requests."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from services.harvester.service import HARVESTER_BUCKET, setup
from services.harvester.settings import HarvesterSettings
from shared.bus import Bus
from shared.events import (
    ChatMessage,
    DeadLetter,
    ExamplesHarvested,
    HarvestCompleted,
    HarvestRequested,
    SessionsNew,
)
from shared.settings import CommonSettings
from tests.busutil import events_of, fresh_bucket, serving

CODE = '''def scale(values: list[float], factor: float) -> list[float]:
    """Multiply every value by `factor`, keeping the order of the input list."""
    return [v * factor for v in values]
'''


@pytest.fixture
async def harvester(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    await fresh_bucket(bus, HARVESTER_BUCKET)
    common = CommonSettings(base_model=str(tiny_model_dir), data_dir=tmp_path / "data")
    async with serving(bus, await setup(bus, common, HarvesterSettings(ack_wait=5, tool_specs=[]))):
        yield


async def _request(bus: Bus, **fields) -> list:
    cycle = uuid.uuid4().hex
    await bus.publish(HarvestRequested(cycle_id=cycle, specialist="coder", **fields))
    return await events_of(bus, cycle, 500, timeout=15, until=(HarvestCompleted, DeadLetter))


async def test_watermark_feedback_and_bad_request(bus: Bus, harvester, repo_builder) -> None:
    repo_builder.commit("feat: add scale", {"pkg/scale.py": CODE.replace("v * factor", "v")})
    # a new file alone gets no review (nothing a reviewer could miss): the change to it does
    repo_builder.commit("feat: scale by the factor", {"pkg/scale.py": CODE})
    repo = str(repo_builder.root)

    first = await _request(bus, repo=repo)
    done = next(e for e in first if isinstance(e, HarvestCompleted))
    batches = [e for e in first if isinstance(e, ExamplesHarvested)]
    assert done.batch_count == len(batches) and done.example_count == sum(len(b.examples) for b in batches) > 0
    assert done.by_generator.get("git_diffs", 0) > 0
    assert done.commit_classes == {"feature": 2}  # "feat: add scale", "feat: scale by the factor"

    # Nothing new since the watermark: no diffs are mined again.
    second = next(e for e in await _request(bus, repo=repo) if isinstance(e, HarvestCompleted))
    assert second.by_generator.get("git_diffs", 0) == 0

    # The promoter's feedback is remembered and folded into the next cycle of that specialist.
    cycle = uuid.uuid4().hex
    await bus.publish(HarvestRequested(cycle_id=cycle, specialist="coder", reason="feedback",
                                       weak_categories=("debugging", "review")))
    await asyncio.sleep(1.0)
    fixed = CODE.replace("v * factor", "v * abs(factor)")
    repo_builder.commit("fix: scale ignored negative factors", {"pkg/scale.py": fixed})
    third = next(e for e in await _request(bus, repo=repo) if isinstance(e, HarvestCompleted))
    assert set(third.weak_categories) == {"debugging", "review"}
    assert third.by_generator.get("git_diffs", 0) > 0  # just the new commit
    fourth = next(e for e in await _request(bus, repo=repo) if isinstance(e, HarvestCompleted))
    assert fourth.weak_categories == ()  # used once, then cleared

    # A request naming nothing to mine can never succeed: dead-lettered with the reason.
    dead = [e for e in await _request(bus) if isinstance(e, DeadLetter)]
    assert dead and "neither a repo nor sessions" in dead[0].reason


async def test_inline_session_triggers_a_harvest_of_that_session(bus: Bus, harvester) -> None:
    cycle = uuid.uuid4().hex
    await bus.publish(SessionsNew(cycle_id=cycle, session_id="s-1", messages=(
        ChatMessage(role="user", content="Please route this to the coder: the parser crashes on empty input files."),
        ChatMessage(role="assistant", content="Routing to the coder specialist: it owns parser fixes and will add "
                                              "a regression test for empty input files."),
    )))
    events = await events_of(bus, cycle, 10, timeout=15, until=(HarvestCompleted,))
    done = next(e for e in events if isinstance(e, HarvestCompleted))
    assert done.by_generator.get("sessions", 0) > 0


def _session(path: Path, sid: str, request: str) -> None:
    row = {"id": sid, "messages": [
        {"role": "user", "content": request},
        {"role": "assistant", "content": "Fixed: the parser function now returns an empty config for an empty "
                                         "file, and a regression test covers it."}]}
    path.write_text(json.dumps(row) + "\n", encoding="utf-8")


async def test_session_files_are_mined_once(bus: Bus, harvester, tmp_path: Path) -> None:
    sessions = tmp_path / "sessions"
    sessions.mkdir()
    _session(sessions / "a.jsonl", "a", "Fix the bug in the parser function for empty files.")

    async def cycle() -> tuple[HarvestCompleted, set[str]]:
        events = await _request(bus, sessions=str(sessions))
        done = next(e for e in events if isinstance(e, HarvestCompleted))
        sources = {x.provenance.source for e in events if isinstance(e, ExamplesHarvested) for x in e.examples}
        return done, sources

    first, sources = await cycle()
    assert first.by_generator.get("sessions", 0) > 0 and sources == {"a.jsonl"}

    # The same files again: nothing mined twice.
    second, _ = await cycle()
    assert second.by_generator.get("sessions", 0) == 0 and second.skipped["sessions:unchanged"] == 1

    # A new file: only its examples.
    _session(sessions / "b.jsonl", "b", "Fix the crash in the lint module on unicode paths.")
    third, sources = await cycle()
    assert third.by_generator.get("sessions", 0) > 0 and sources == {"b.jsonl"}


def test_batches_stay_under_the_byte_cap() -> None:
    from services.harvester.service import batch_examples
    from shared.events import Example, Provenance

    examples = [Example.build(specialist="coder", category="instruction", generator="t",
                              messages=[("user", f"q{i}"), ("assistant", "x" * 30_000)],
                              provenance=Provenance(source="t")) for i in range(40)]
    batches = batch_examples(examples, size=64, max_bytes=100_000)
    assert [len(b) for b in batches] == [3] * 13 + [1]
    assert all(sum(len(e.model_dump_json()) for e in b) <= 100_000 for b in batches)
    assert [e for b in batches for e in b] == examples  # nothing lost, order kept
