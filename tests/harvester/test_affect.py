"""Affect: whole sessions → the operator's state recognised from what the conversation shows, and a
reply that addresses it and moves the work on with what the session actually did."""

from __future__ import annotations

import json
from pathlib import Path

from services.harvester.base import Context, Skips
from services.harvester.core import harvest
from services.harvester.generators.affect import Affect
from services.harvester.plan import HarvestPlan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sessions"
SYSTEM = {"role": "system", "content": "You run the loop."}


def call(name: str, args: dict) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]}


def write(path: Path, conversations: list[list[dict]]) -> Path:
    path.write_text("\n".join(json.dumps({"id": f"s-{i}", "messages": [SYSTEM, *msgs]})
                              for i, msgs in enumerate(conversations)) + "\n")
    return path


def drafts(sessions: Path) -> list:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", sessions=sessions), skips=Skips())
    return list(Affect().run(ctx))


def test_a_repeated_request_after_a_failure_reads_as_frustration_with_the_failure_as_evidence(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", [[
        {"role": "user", "content": "Run the judge tests."},
        call("run_tests", {"path": "tests/judge"}),
        {"role": "tool", "tool_call_id": "c", "content": "Error: timed out after 600 s"},
        {"role": "assistant", "content": "The judge tests timed out."},
        {"role": "user", "content": "Run the judge tests, only the fast ones."},
        call("run_tests", {"path": "tests/judge", "markers": "not slow"}),
        {"role": "assistant", "content": "41 passed."},
    ]])
    [d] = drafts(path)
    assert d.task == "affect" and d.hint == "frustration"
    # the evidence is the failed turn, which the prompt shows
    assert 'the earlier request "Run the judge tests." failed (tool error)' in d.answer
    assert "(that turn failed: tool error)" in d.prompt
    # the reply moves the work on with the call the session made, arguments and all
    assert '`run_tests` with {"markers": "not slow", "path": "tests/judge"}' in d.answer
    assert "41 passed" not in d.answer  # what the call returned is not in the prompt: never stated


def test_each_state_and_neutral_turns(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", [
        [{"role": "user", "content": "I don't understand why the candidate was rejected."},
         {"role": "assistant", "content": "Debugging scored 0.26, under the 0.30 floor, so the promoter rejected it."}],
        [{"role": "user", "content": "Perfect, thanks!"}, {"role": "assistant", "content": "Glad it helped."}],
        [{"role": "user", "content": "Roll back the coder ASAP, it is blocking the release."},
         call("rollback", {"specialist": "coder"})],
        [{"role": "user", "content": "How many examples are in the corpus?"},
         {"role": "assistant", "content": "About 2,600 live examples."}],
    ])
    found = {d.hint: d for d in drafts(path)}
    assert set(found) == {"confusion", "satisfaction", "urgency"}  # the neutral question yields nothing
    assert '"I don\'t understand"' in found["confusion"].answer
    reply = "Debugging scored 0.26, under the 0.30 floor, so the promoter rejected it."
    assert found["confusion"].answer.endswith(reply)
    assert '"ASAP"' in found["urgency"].answer and '"blocking"' in found["urgency"].answer
    assert "Skip the preamble and act first" in found["urgency"].answer


def test_shipped_sessions_feed_affect_reasoning() -> None:
    result = harvest(HarvestPlan(specialist="orchestrator", sessions=EXAMPLES))
    mine = [e for e in result.examples if e.generator == "affect"]
    assert mine and {e.category for e in mine} == {"affect_reasoning"}
    states = {e.response.split(" (", 1)[1].split(")")[0].split(";")[0] for e in mine}
    # the shipped operators are calm: bug reports ("blows up", "regressed") are not frustration
    assert {"satisfaction", "urgency"} <= states and "frustration" not in states
    # a turn whose reply failed (an errored assistant turn) teaches no reply
    assert result.skipped.get("affect:no_usable_reply", 0) >= 1
    # the coder and reasoner do not map `affect`: counted, not guessed
    coder = harvest(HarvestPlan(specialist="coder", sessions=EXAMPLES))
    assert not [e for e in coder.examples if e.generator == "affect"] and coder.skipped["affect:not_for_coder"] >= 1


def test_a_calm_bug_report_is_not_frustration() -> None:
    """examples/sessions: "Dedup blows up when ..." is a polite request (rated a false 'frustrated');
    "regressed in production" is urgency from "in production", not frustration from "regressed"."""
    from services.harvester.generators.affect import read_state
    from services.harvester.session_formats import Turn

    assert read_state(Turn(user="Dedup blows up when an example has no messages. Please get that fixed."), []) is None
    r = read_state(Turn(user="Reasoner-v7 regressed in production; revert to the previous reasoner."), [])
    assert r is not None and r.state == "urgency" and not r.also
    assert read_state(Turn(user="It is still broken, seriously."), []).state == "frustration"
