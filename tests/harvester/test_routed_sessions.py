"""A conversation the router served teaches routing from what happened: its intent label is the
specialist the router used, not a guess from the request's words."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import pytest

from services.harvester.base import Skips
from services.harvester.generators.sessions import turn_drafts
from services.harvester.service import HARVESTER_BUCKET, setup
from services.harvester.session_formats import parse_file
from services.harvester.settings import HarvesterSettings
from shared.bus import Bus
from shared.events import ChatMessage, ExamplesHarvested, SessionsNew
from shared.settings import CommonSettings
from tests.busutil import fresh_bucket, read_stream, serving

# Words alone say "orchestrator" (no code word, no reasoning word); the router sent it to the reasoner.
TURNS = [("user", "Hello, what is on the list for today?"), ("assistant", "Three items: the release, the review."),
         ("user", "Tell me more about the second item on that list."), ("assistant", "The review is at noon.")]


def _intents(path: Path) -> list[str]:
    (conv,) = parse_file(path, path.parent, Skips())
    return [json.loads(d.messages[-1][1])["route"] for t in conv.turns for d in turn_drafts(conv, t, [])
            if d.task == "intent"]


def test_the_routed_specialist_labels_the_last_turn_only(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    messages = [{"role": r, "content": c} for r, c in TURNS]
    path.write_text(json.dumps({"session_id": "s", "messages": messages, "route": "reasoner"}) + "\n")
    assert _intents(path) == ["orchestrator", "reasoner"]  # earlier turns were routed by earlier requests
    path.write_text(json.dumps({"session_id": "s", "messages": messages}) + "\n")
    assert _intents(path) == ["orchestrator", "orchestrator"]


@pytest.fixture
async def harvester(bus: Bus, tiny_model_dir: Path, tmp_path: Path):
    await fresh_bucket(bus, HARVESTER_BUCKET)
    common = CommonSettings(base_model=str(tiny_model_dir), data_dir=tmp_path / "data")
    settings = HarvesterSettings(ack_wait=5, tool_specs=[], trigger_specialist="orchestrator")
    async with serving(bus, await setup(bus, common, settings)):
        yield


async def test_a_routed_session_on_the_bus_is_harvested_with_its_route(bus: Bus, harvester) -> None:
    sid = uuid.uuid4().hex
    await bus.publish(SessionsNew(cycle_id=uuid.uuid4().hex, session_id=sid, specialist="reasoner", effort=8,
                                  messages=tuple(ChatMessage(role=r, content=c) for r, c in TURNS)))

    def ours(e: object) -> bool:
        return isinstance(e, ExamplesHarvested) and any(x.provenance.session_id == sid for x in e.examples)

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while not (batches := await read_stream(bus, "ouro.examples.harvested.v1", ours)) and loop.time() < deadline:
        await asyncio.sleep(0.2)
    routes = [json.loads(x.messages[-1].content)["route"] for e in batches for x in e.examples
              if x.category == "intent_classification"]
    assert "reasoner" in routes
