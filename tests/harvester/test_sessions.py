from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from services.harvester.base import Context, Skips
from services.harvester.core import HarvestPlan
from services.harvester.formats import DEFAULT_THINK, render_think
from services.harvester.generators.sessions import Sessions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sessions"
ANSWER = "Started cycle c-1 for the coder; the harvester is mining commits since the last watermark."


def run(path: Path) -> tuple[list, Counter]:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", sessions=path), skips=Skips())
    return list(Sessions().run(ctx)), ctx.skips.counts


def write_lines(path: Path, rows: list[object | str]) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_openai_with_tool_call(tmp_path: Path) -> None:
    row = {"messages": [
        {"role": "system", "content": "You run the loop."},
        {"role": "user", "content": "Start a cycle for the coder."},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "start_cycle", "arguments": '{"specialist": "coder", "reason": "manual"}'}}]},
        {"role": "tool", "content": '{"cycle_id": "c-1"}'},
        {"role": "assistant", "content": ANSWER}]}
    drafts, skips = run(write_lines(tmp_path / "s.jsonl", [row, "{not json", row | {"id": "two"}]))
    assert skips == Counter({"sessions:malformed_line": 1})  # the rest of the file still parsed
    tasks = [d.task for d in drafts]
    assert tasks == ["intent", "tool_call", "session_turn"] * 2
    intent, tool, turn = drafts[:3]
    assert json.loads(intent.answer) == {"route": "orchestrator", "intent": "start_cycle"}
    assert tool.answer == '{"name": "start_cycle", "arguments": {"reason": "manual", "specialist": "coder"}}'
    assert "start_cycle" in tool.messages[0][1]
    assert turn.messages == (("system", "You run the loop."), ("user", "Start a cycle for the coder."),
                             ("assistant", ANSWER))
    assert drafts[3].session_id == "two" and turn.source == "s.jsonl"


def test_sharegpt_routing_and_errors(tmp_path: Path) -> None:
    rows = [
        {"conversations": [{"from": "human", "value": "Fix the crash in dedup."},
                           {"from": "function_call", "value": json.dumps(
                               {"name": "route_request", "arguments": {"specialist": "coder", "brief": "fix"}})},
                           {"from": "observation", "value": "ok"},
                           {"from": "gpt", "value": "The coder fixed dedup for examples with no messages."}]},
        {"conversations": [{"from": "human", "value": "Roll back."},
                           {"from": "function_call", "value": '{"name": "rollback", "arguments": {}}'},
                           {"from": "observation", "value": "Error: nothing archived"},
                           {"from": "gpt", "value": "It failed."}]},
        {"conversations": [{"from": "human", "value": "Ping?"}, {"from": "gpt", "value": "  "}]},
    ]
    drafts, skips = run(write_lines(tmp_path / "s.jsonl", rows))
    assert skips == Counter({"sessions:tool_error": 1, "sessions:empty_answer": 1})
    assert json.loads(drafts[0].answer) == {"route": "coder", "intent": "delegate_to_coder"}
    assert all(d.hint == "coder" for d in drafts)


def test_agent_transcript_grouped_by_session(tmp_path: Path) -> None:
    def ev(sid: str, kind: str, content: list, **extra: object) -> dict:
        return {"type": kind, "sessionId": sid, "message": {"role": kind, "content": content}, **extra}

    rows = [
        ev("a", "user", [{"type": "text", "text": "What is the loop doing?"}]),
        ev("b", "user", [{"type": "text", "text": "Run the judge tests."}]),
        ev("a", "assistant", [{"type": "thinking", "thinking": "A status call answers this."},
                              {"type": "tool_use", "id": "1", "name": "get_status", "input": {}}]),
        ev("b", "assistant", [{"type": "tool_use", "id": "2", "name": "run_tests", "input": {"path": "tests/judge"}}]),
        ev("a", "user", [{"type": "tool_result", "tool_use_id": "1", "content": "training"}]),
        ev("b", "user", [{"type": "tool_result", "tool_use_id": "2", "content": "boom", "is_error": True}]),
        ev("a", "assistant", [{"type": "text", "text": "The current cycle is training the coder adapter."}]),
        {"type": "summary", "summary": "status"},
        ev("c", "user", [{"type": "text", "text": "Start everything."}]),
        ev("c", "user", [{"type": "text", "text": "[Request interrupted by user]"}]),
        ev("d", "user", [{"type": "text", "text": "Status?"}]),
        ev("d", "assistant", [{"type": "text", "text": "partial"}], stop_reason="error"),
    ]
    drafts, skips = run(write_lines(tmp_path / "agent.jsonl", rows))
    assert skips == Counter({"sessions:tool_error": 1, "sessions:interrupted": 1, "sessions:error": 1})
    assert {d.session_id for d in drafts} == {"a"}
    think = next(d for d in drafts if d.format == "think")
    assert think.thought == "A status call answers this."
    assert think.answer == "The current cycle is training the coder adapter."  # tags come from core, per family
    assert render_think(think, DEFAULT_THINK).answer.startswith(
        "<think>\nA status call answers this.\n</think>\n\nThe current cycle")


def test_shipped_example_sessions() -> None:
    files = sorted(p.name for p in EXAMPLES.iterdir())
    assert files == ["agent.jsonl", "openai.jsonl", "sharegpt.jsonl"]
    drafts, skips = run(EXAMPLES)
    convs = {(d.source, d.session_id) for d in drafts}
    assert len(convs) >= 35
    assert not any(k.endswith(("malformed_line", "unknown_format")) for k in skips)
    tools = {json.loads(d.answer)["name"] for d in drafts if d.task == "tool_call"}
    assert {"start_cycle", "get_status", "rollback", "search_code", "read_file", "run_tests"} <= tools
    routes = Counter(json.loads(d.answer)["route"] for d in drafts if d.task == "intent")
    assert routes["coder"] and routes["reasoner"] and routes["orchestrator"]
