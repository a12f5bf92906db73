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
    # the rest of the file still parsed; the same request in two logs gets one intent label
    assert skips == Counter({"sessions:malformed_line": 1, "sessions:intent_same_request": 1})
    tasks = [d.task for d in drafts]
    assert tasks == ["tool_call", "session_turn"] * 2 + ["intent"]
    tool, turn = drafts[:2]
    intent = drafts[-1]
    assert json.loads(intent.answer) == {"route": "orchestrator", "intent": "start_cycle"}
    assert tool.answer == '{"name": "start_cycle", "arguments": {"reason": "manual", "specialist": "coder"}}'
    # the tool-use prompt carries the tool with an argument schema, not just its name
    schema_line = next(ln for ln in tool.messages[0][1].splitlines() if "start_cycle" in ln)
    fn = json.loads(schema_line)["function"]
    assert fn["parameters"]["properties"] == {"reason": {"type": "string"}, "specialist": {"type": "string"}}
    # the whole conversation, the call and its result included, in OpenAI's shape
    assert turn.chat is not None
    roles = [m.role for m in turn.chat]
    assert roles == ["system", "user", "assistant", "tool", "assistant"]
    assert turn.chat[0].content.startswith("You run the loop.") and "start_cycle" in turn.chat[0].content
    call = turn.chat[2].tool_calls[0]
    assert call.function.name == "start_cycle" and json.loads(call.function.arguments) == {
        "reason": "manual", "specialist": "coder"}
    assert turn.chat[3].content == '{"cycle_id": "c-1"}' and turn.chat[3].tool_call_id == call.id
    assert turn.answer == ANSWER
    assert drafts[2].session_id == "two" and turn.source == "s.jsonl"


def test_a_claimed_action_without_its_call_is_dropped(tmp_path: Path) -> None:
    rows = [
        {"messages": [{"role": "user", "content": "Restart the judge service."},
                      {"role": "assistant", "content": "Done: service.restart ran and the judge is back."}]},
        {"messages": [{"role": "user", "content": "Restart the judge service."},
                      {"role": "assistant", "content": "I restarted the judge; it is consuming again."}]},
        {"messages": [{"role": "user", "content": "How do watermarks work?"},
                      {"role": "assistant", "content": "The harvester stores the last mined commit per repo."},
                      {"role": "user", "content": "Then restart the harvester."},
                      {"role": "assistant", "content": "Restarted the harvester; it resumed from its watermark."}]},
        {"messages": [{"role": "user", "content": "Restart the judge service."},
                      {"role": "assistant", "content": "", "tool_calls": [{"id": "c9", "type": "function",
                       "function": {"name": "restart_service", "arguments": '{"name": "judge"}'}}]},
                      {"role": "tool", "tool_call_id": "c9", "content": '{"ok": true}'},
                      {"role": "assistant", "content": "I restarted the judge; it is consuming again."}]},
    ]
    drafts, skips = run(write_lines(tmp_path / "s.jsonl", rows))
    assert skips["sessions:unbacked_tool_claim"] == 3
    turns = [d for d in drafts if d.task == "session_turn"]
    # the watermark question stays (the claim came later); the backed restart stays with its call
    assert [d.answer for d in turns] == ["The harvester stores the last mined commit per repo.",
                                         "I restarted the judge; it is consuming again."]
    assert turns[1].chat[2].tool_calls[0].function.name == "restart_service"


def _delegated(result: str, answer: str, request: str = "Add a unit test for the rollback CAS conflict.") -> dict:
    return {"messages": [
        {"role": "user", "content": request},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "route_request", "arguments": json.dumps({"specialist": "coder",
                                                             "brief": "Write a test where two rollbacks race."})}}]},
        {"role": "tool", "content": result},
        {"role": "assistant", "content": answer}]}


def test_an_answer_reporting_what_no_tool_result_shows_is_dropped(tmp_path: Path) -> None:
    invented = ("The coder added test_rollback_conflict: two rollbacks start from the same revision and the "
                "second fails with a compare-and-set conflict instead of overwriting the first.")
    figures = {"messages": [
        {"role": "user", "content": "Summarise what happened in the last cycle."},
        {"role": "assistant", "content": "The last cycle harvested 3,214 examples and scored 0.78 overall."}]}
    computed = {"messages": [
        {"role": "user", "content": "A cycle trains 40 minutes 4 times a day: how long in all?"},
        {"role": "assistant", "content": "4 x 40 = 160 minutes, about 2.67 hours."}]}
    rows = [
        _delegated("done", invented),  # a bare "done" cannot back the test's name or its behaviour
        _delegated('{"status": "ok"}', invented, "Add the CAS conflict test, please."),
        _delegated("done", "Routed to the coder; it reports done.", "Write the CAS conflict test."),
        _delegated('{"test": "test_rollback_conflict", "passed": true}', "The coder added test_rollback_conflict; "
                   "it passes.", "A rollback CAS conflict test, please."),
        figures, computed,
    ]
    drafts, skips = run(write_lines(tmp_path / "s.jsonl", rows))
    assert skips["sessions:unreported_after_ack"] == 2 and skips["sessions:unbacked_figures"] == 1
    # the requests and the calls were real: every turn keeps its intent label and its tool call
    assert len([d for d in drafts if d.task == "tool_call"]) == 4
    assert len([d for d in drafts if d.task == "intent"]) == 6
    answers = {d.answer for d in drafts if d.task == "session_turn"}
    # a short confirmation, a report of what the result says, and shown arithmetic stay
    assert answers == {"Routed to the coder; it reports done.", "The coder added test_rollback_conflict; it passes.",
                       "4 x 40 = 160 minutes, about 2.67 hours."}


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
    intent = next(d for d in drafts if d.task == "intent")
    assert json.loads(intent.answer) == {"route": "coder", "intent": "delegate_to_coder"}
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
    assert skips == Counter({"sessions:tool_error": 1, "sessions:interrupted": 1, "sessions:error": 1,
                             "sessions:think_needs_tool_results": 1})
    assert {d.session_id for d in drafts} == {"a"}
    [conv] = [d for d in drafts if d.task == "session_turn" and d.format == "chat"]
    assert [m.role for m in conv.chat] == ["system", "user", "assistant", "tool", "assistant"]
    assert conv.chat[3].content == "training" and conv.chat[3].tool_call_id == "1"
    # its answer reports a tool result: a think draft without the call would be unbacked
    assert not [d for d in drafts if d.format == "think"]
    rows.append(ev("e", "user", [{"type": "text", "text": "Why is the coder slower than the reasoner?"}]))
    rows.append(ev("e", "assistant", [{"type": "thinking", "thinking": "More examples, same steps."},
                                      {"type": "text", "text": "The coder trains on twice the examples."}]))
    drafts, _ = run(write_lines(tmp_path / "agent.jsonl", rows))
    think = next(d for d in drafts if d.format == "think")
    assert think.thought == "More examples, same steps."
    assert think.answer == "The coder trains on twice the examples."  # tags come from core, per family
    assert render_think(think, DEFAULT_THINK).answer.startswith(
        "<think>\nMore examples, same steps.\n</think>\n\nThe coder trains")


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
    # one label per request, one vocabulary across the three formats
    requests = [d.prompt for d in drafts if d.task == "intent"]
    assert len(requests) == len(set(requests))
    intents = {json.loads(d.answer)["intent"] for d in drafts if d.task == "intent"}
    assert not intents & {"coding_question", "reasoning_question"}
    # whole conversations with their tool calls and results, from every format
    multi = [d for d in drafts if d.task == "session_turn" and d.chat and any(m.role == "tool" for m in d.chat)]
    assert {d.source for d in multi} == {"agent.jsonl", "openai.jsonl", "sharegpt.jsonl"}
    assert not any(d.chat and claims_unbacked(d.chat) for d in drafts)


def claims_unbacked(chat) -> bool:
    from services.harvester.generators.sessions import claims_action

    called = False
    for m in chat:
        if m.role == "assistant":
            if m.content and not called and claims_action(m.content):
                return True
            called = called or bool(m.tool_calls)
    return False
