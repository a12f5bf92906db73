from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from services.harvester.base import Context, Draft, Skips
from services.harvester.core import HarvestPlan, harvest
from services.harvester.generators.tool_specs import ToolSpecs, imperative
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
        assert all(str(v).lower() in d.prompt.lower() for v in call["arguments"].values() if isinstance(v, str))
        assert d.prompt.lower().startswith(("read a document", "please read", "can you read"))
        assert "read_docs(dry_run?: boolean, limit?: integer, mode?: fast|full, path: string, tags?: array)" in (
            d.messages[0][1])
    assert json.loads(drafts[0].answer)["arguments"] == {"path": "services/judge/core.py"}  # required only first


def test_example_spec_covers_the_loops_tools_as_tool_use() -> None:
    drafts, skips = run(EXAMPLE_SPEC)
    assert not skips
    assert {json.loads(d.answer)["name"] for d in drafts} == {
        "start_cycle", "get_status", "rollback", "search_code", "read_file", "run_tests"}
    result = harvest(HarvestPlan(specialist="orchestrator", tool_specs=(EXAMPLE_SPEC.parent,), docs=False))
    assert result.by_generator == {"tool_specs": len(drafts)}
    assert {e.category for e in result.examples} == {"tool_use"}
    coder = harvest(HarvestPlan(specialist="coder", tool_specs=(EXAMPLE_SPEC,)))
    assert coder.examples == [] and coder.skipped == {"tool_specs:not_for_coder": len(drafts)}


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
