"""Tool calls leave the export as the corpus holds them: OpenAI's shape exactly, ShareGPT's turns."""

from __future__ import annotations

import json
from pathlib import Path

from ouro.export.rows import ExportOptions, export_rows, openai_row, sharegpt_row
from ouro.export.write import export_corpus
from services.harvester.generators.sessions import tool_system
from services.judge.corpus import Corpus
from tests.export import openai_format
from tests.export.corpora import (
    OPEN_TOOL,
    SEARCH_TOOL,
    SPECIALIST,
    T0,
    ex,
    file_examples,
    tool_session_example,
)


def _schema_call() -> object:
    """A single-call tool-use example under the schema tool prompt (sessions and tool_specs)."""
    system = tool_system({"search": SEARCH_TOOL, "open_file": OPEN_TOOL})
    return ex([("system", system), ("user", "Find where retries back off."),
               ("assistant", json.dumps({"name": "search", "arguments": {"query": "retry backoff"}}))],
              category="tool_use", generator="tool_specs", path="specs/tools.json", source="tools.json")


def _corpus() -> Corpus:
    return Corpus(specialist=SPECIALIST).add([tool_session_example(), _schema_call(), *file_examples(2)],
                                             cycle_id="c", now=T0)


def _lines(out: Path) -> list[dict]:
    return [json.loads(line) for f in sorted(out.glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_openai_export_carries_tool_calls_and_tool_call_ids_exactly(tmp_path: Path) -> None:
    export_corpus(_corpus(), ExportOptions(format="openai", validation_share=0), tmp_path / "o")
    lines = _lines(tmp_path / "o")
    for line in lines:
        assert openai_format.errors(json.dumps(line)) == [], line
    session = tool_session_example()
    [got] = [x for x in lines if len(x["messages"]) == len(session.messages)]
    # every message as the corpus holds it: calls with their ids, results with the id they answer
    want = [{k: v for k, v in m.model_dump(mode="json").items() if v != ""} for m in session.messages]
    assert got["messages"] == want
    assert got["messages"][2]["content"] == "Let me look."  # the text said alongside the call stays
    assert "content" not in got["messages"][4] and len(got["messages"][4]["tool_calls"]) == 2
    assert [m.get("tool_call_id") for m in got["messages"][5:7]] == ["toolu_02", "toolu_03"]
    # the tools go out with their argument schemas, read from the system turn
    assert got["tools"] == [{"type": "function", "function": SEARCH_TOOL}, {"type": "function", "function": OPEN_TOOL}]


def test_a_single_call_under_the_schema_prompt_is_a_tool_call_with_its_schemas() -> None:
    rows = export_rows(_corpus(), ExportOptions(format="openai")).rows
    [row] = [r for r in rows if r.example.generator == "tool_specs"]
    out = openai_row(row)
    assistant = out["messages"][-1]
    assert set(assistant) == {"role", "tool_calls"}
    [call] = assistant["tool_calls"]
    assert call["function"]["name"] == "search" and json.loads(call["function"]["arguments"]) == {
        "query": "retry backoff"}
    assert [t["function"] for t in out["tools"]] == [SEARCH_TOOL, OPEN_TOOL]  # as the prompt lists them


def test_sharegpt_renders_calls_as_function_call_and_results_as_observation(tmp_path: Path) -> None:
    from datasets import load_dataset

    export_corpus(_corpus(), ExportOptions(format="sharegpt", validation_share=0), tmp_path / "s")
    rows = list(load_dataset("json", data_files=str(tmp_path / "s" / "train.jsonl"), split="train"))
    [row] = [r for r in rows if r["id"] == tool_session_example().id]
    turns = [(t["from"], t["value"]) for t in row["conversations"]]
    assert [f for f, _ in turns] == ["system", "human", "gpt", "function_call", "observation", "function_call",
                                     "observation", "observation", "gpt"]
    assert turns[2][1] == "Let me look."
    assert json.loads(turns[3][1]) == {"name": "search", "arguments": {"query": "retry backoff"}}
    assert json.loads(turns[5][1]) == [{"name": "open_file", "arguments": {"path": "shared/bus.py"}},
                                       {"name": "search", "arguments": {"query": "nak("}}]
    assert turns[4][1] == "shared/bus.py:42: def backoff(attempt):"
    assert json.loads(row["tools"]) == [SEARCH_TOOL, OPEN_TOOL]
    # a row without tool calls has no tools
    plain = [r for r in rows if all(t["from"] in ("human", "gpt") for t in r["conversations"])]
    assert plain and all(r["tools"] is None for r in plain)


def test_stripping_think_keeps_the_tool_calls() -> None:
    sel = export_rows(_corpus(), ExportOptions(format="openai", think="strip"))
    [row] = [r for r in sel.rows if r.example.id == tool_session_example().id]
    assert row.chat == tool_session_example().messages
    assert sharegpt_row(row)["conversations"][3]["from"] == "function_call"


def test_alpaca_leaves_the_session_with_tool_calls_out() -> None:
    sel = export_rows(_corpus(), ExportOptions(format="alpaca"))
    assert sel.left_out["alpaca_not_single_turn"] == 1
    # a single call answered as JSON text is single-turn: alpaca keeps it as its output text
    assert {r.example.generator for r in sel.rows} == {"ast_code", "tool_specs"}


def test_hf_and_parquet_tables_keep_the_calls_the_results_answer_and_the_tool_schemas(tmp_path: Path) -> None:
    from datasets import load_dataset, load_from_disk

    session = tool_session_example()
    tables = {}
    for fmt in ("hf", "parquet"):
        export_corpus(_corpus(), ExportOptions(format=fmt, validation_share=0), tmp_path / fmt)
    tables["hf"] = load_from_disk(str(tmp_path / "hf" / "data"))["train"]
    tables["parquet"] = load_dataset("parquet", data_files=str(tmp_path / "parquet" / "data" / "train-*.parquet"),
                                     split="train")
    for fmt, table in tables.items():
        [row] = [r for r in table if r["id"] == session.id]
        msgs = row["messages"]
        assert [m["role"] for m in msgs] == [m.role for m in session.messages], fmt
        # every call the assistant made, with its id and JSON arguments, and the call each result answers
        for got, want in zip(msgs, session.messages, strict=True):
            assert got["content"] == want.content
            assert got["tool_calls"] == [c.model_dump(mode="json") for c in want.tool_calls or ()], fmt
            assert got["tool_call_id"] == want.tool_call_id
        assert [c["function"]["name"] for c in msgs[4]["tool_calls"]] == ["open_file", "search"]
        assert json.loads(row["tools"]) == [{"type": "function", "function": SEARCH_TOOL},
                                            {"type": "function", "function": OPEN_TOOL}]
        # a row that calls nothing has no tools and empty call lists: one schema for the whole table
        plain = next(r for r in table if r["generator"] != "sessions" and r["generator"] != "tool_specs")
        assert plain["tools"] is None and all(m["tool_calls"] == [] for m in plain["messages"])
