from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from services.harvester.base import Context, Draft, Skips
from services.harvester.core import HarvestPlan, harvest
from services.harvester.generators.sessions import TOOLS_INTRO
from services.harvester.generators.tool_specs import ToolSpecs, imperative, phrase
from services.harvester.schema_validate import errors

EXAMPLE_SPEC = Path(__file__).resolve().parents[2] / "examples" / "tools" / "ouroboros.mcp.json"
SCHEMA = {"type": "object", "required": ["path"], "properties": {
    "path": {"type": "string"}, "limit": {"type": "integer", "minimum": 1, "maximum": 5},
    "mode": {"type": "string", "enum": ["fast", "full"]}, "tags": {"type": "array", "items": {"type": "string"}},
    "dry_run": {"type": "boolean"}}}


def run(*paths: Path) -> tuple[list[Draft], Counter[str]]:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", tool_specs=paths), skips=Skips())
    return list(ToolSpecs().run(ctx)), ctx.skips.counts


@pytest.mark.parametrize(("value", "expected"), [
    ({"path": "a.py", "limit": 3, "mode": "fast", "tags": ["x"], "dry_run": True}, []),
    ({"limit": 3}, ["$: missing required 'path'"]),
    ({"path": "a.py", "limit": True}, ["$.limit: expected integer, got bool"]),
    ({"path": "a.py", "mode": "slow"}, ["$.mode: 'slow' is not one of ['fast', 'full']"]),
    ({"path": "a.py", "tags": ["x", 2]}, ["$.tags[1]: expected string, got int"]),
    ("a.py", ["$: expected object, got str"]),
])
def test_validator(value: object, expected: list[str]) -> None:
    assert errors(value, SCHEMA) == expected


def test_openai_functions_give_valid_calls(tmp_path: Path) -> None:
    spec = tmp_path / "fns.json"
    spec.write_text(json.dumps([
        {"type": "function", "function": {"name": "read_docs", "description": "Reads a document of the project.",
                                          "parameters": SCHEMA}},
        {"type": "function", "function": {"name": "nameless_description"}},
    ]))
    drafts, skips = run(spec)
    assert skips == Counter({"tool_specs:no_description": 1})
    assert len(drafts) == 3
    for d in drafts:
        call = json.loads(d.answer)
        assert call["name"] == "read_docs" and errors(call["arguments"], SCHEMA) == []
        user = d.messages[1][1]
        # every value is in the request, said in words: no "name: value" list of the arguments
        for k, v in call["arguments"].items():
            said = {True: " on", False: " off"}[v] if isinstance(v, bool) else str(v[0] if isinstance(v, list) else v)
            assert said in user
            assert f"{k.replace('_', ' ')}:" not in user.lower() and f"{k}:" not in user
        assert user.lower().startswith(("i need to read a document", "please read", "can you read"))
    assert json.loads(drafts[0].answer)["arguments"] == {"path": "services/judge/core.py"}  # required only first
    assert drafts[1].messages[1][1] == ("Please read a document of the project: `shared/bus.py`, limit 5, "
                                        "the full mode, tags bravo and with dry run off.")


def test_the_system_turn_lists_every_tool_of_the_file_with_its_schema() -> None:
    spec = json.loads(EXAMPLE_SPEC.read_text())["tools"]
    drafts, _ = run(EXAMPLE_SPEC)
    systems = {d.messages[0][1] for d in drafts}
    assert len(systems) == 1  # one tool menu per file, whichever tool the request needs
    [system] = systems
    listed = [json.loads(line)["function"] for line in system.split(TOOLS_INTRO, 1)[1].splitlines()]
    assert [(f["name"], f["description"], f["parameters"]) for f in listed] == [
        (t["name"], t["description"], t["inputSchema"]) for t in spec]


@pytest.mark.parametrize(("name", "schema", "value", "said"), [
    ("query", {"type": "string", "description": "a Python regular expression"}, "def f",
     "the Python regular expression `def f`"),
    ("path", {"type": "string", "description": "a directory to search under, e.g. services/judge"}, "x/y",
     "the directory to search under `x/y`"),
    ("cycle_id", {"type": "string", "description": "a cycle id; all cycles when omitted"}, "c1", "the cycle id `c1`"),
    ("max_results", {"type": "integer"}, 10, "at most 10 results"),
    ("max_results", {"type": "integer"}, 1, "at most 1 result"),
    ("start_line", {"type": "integer"}, 3, "from line 3"),
    ("end_line", {"type": "integer"}, 23, "to line 23"),
    ("specialist", {"type": "string", "enum": ["coder"]}, "coder", "the coder specialist"),
    ("fail_fast", {"type": "boolean"}, True, "with fail fast on"),
    ("path", {"type": "string", "description": "path relative to the repository root"}, "a.py", "`a.py`"),
])
def test_each_argument_is_said_in_words_from_its_schema(name: str, schema: dict, value: object, said: str) -> None:
    assert phrase(name, schema, value) == said


def test_example_spec_covers_the_loops_tools_as_tool_use() -> None:
    drafts, skips = run(EXAMPLE_SPEC)
    assert not skips
    assert {json.loads(d.answer)["name"] for d in drafts} == {
        "start_cycle", "get_status", "rollback", "search_code", "read_file", "run_tests"}
    result = harvest(HarvestPlan(specialist="orchestrator", tool_specs=(EXAMPLE_SPEC.parent,), docs=False))
    assert result.by_generator == {"tool_specs": len(drafts)}
    assert {e.category for e in result.examples} == {"tool_use"}
    coder = harvest(HarvestPlan(specialist="coder", tool_specs=(EXAMPLE_SPEC,)))
    # other generators may skip things of their own on this plan: only this generator's count matters
    assert coder.examples == [] and coder.skipped["tool_specs:not_for_coder"] == len(drafts)
    assert not {k for k in coder.skipped if k.startswith("tool_specs:") and k != "tool_specs:not_for_coder"}


def test_malformed_spec_is_counted(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "odd.json").write_text('{"tools": [{"name": "x", "description": "Do x.", "inputSchema": '
                                       '{"type": "object", "properties": {"when": {"type": "date"}}}}]}')
    drafts, skips = run(tmp_path)
    assert drafts == [] and skips == Counter({"tool_specs:malformed_spec": 1, "tool_specs:unsupported_schema": 1})


def test_imperative() -> None:
    assert imperative("Returns the status. Fast.") == "return the status"
    assert imperative("Searches the code") == "search the code"
    assert imperative("HTTP check of a URL.") == "HTTP check of a URL"
    assert imperative("Starts a cycle: harvest, judge, train.") == "start a cycle"
    assert imperative("Restores a champion (the latest by default).") == "restore a champion"
