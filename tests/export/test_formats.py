"""Each format, read back by the library that consumes it, holds the same examples on the same sides."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ouro.export.rows import ExportOptions, export_rows
from ouro.export.write import export_corpus
from services.harvester.generators.external import to_messages
from services.judge.corpus import Corpus
from tests.export import openai_format
from tests.export.corpora import make_corpus

SHARE = 0.3


def _expected(corpus: Corpus, fmt: str, **kw: object) -> dict[str, dict[str, tuple[tuple[str, str], ...]]]:
    """split -> id -> messages, straight from the core."""
    out: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {"train": {}, "validation": {}}
    for r in export_rows(corpus, ExportOptions(format=fmt, validation_share=SHARE, **kw)).rows:  # type: ignore[arg-type]
        out[r.split][r.example.id] = r.messages
    assert out["train"] and out["validation"], "the test corpus must put examples on both sides"
    return out


def _export(tmp_path: Path, fmt: str, **kw: object) -> tuple[Path, Corpus]:
    corpus = make_corpus()
    out = tmp_path / fmt
    export_corpus(corpus, ExportOptions(format=fmt, validation_share=SHARE, **kw), out)  # type: ignore[arg-type]
    return out, corpus


def _by_content(splits: dict[str, dict[str, tuple[tuple[str, str], ...]]]) -> dict[str, list[object]]:
    """split -> sorted messages, with tool-call JSON compared as data (key order and spacing aside)."""
    def norm(content: str) -> object:
        try:
            obj = json.loads(content)
        except json.JSONDecodeError:
            return content
        return json.dumps(obj, sort_keys=True) if isinstance(obj, dict) else content

    return {s: sorted(json.dumps([(r, norm(c)) for r, c in m]) for m in rows.values()) for s, rows in splits.items()}


def test_hf_load_from_disk(tmp_path: Path) -> None:
    from datasets import DatasetDict, load_from_disk

    out, corpus = _export(tmp_path, "hf")
    dd = load_from_disk(str(out / "data"))
    assert isinstance(dd, DatasetDict) and set(dd) == {"train", "validation"}
    got = {s: {row["id"]: tuple((m["role"], m["content"]) for m in row["messages"]) for row in dd[s]} for s in dd}
    assert got == _expected(corpus, "hf")
    row = dd["train"][0]
    assert {"category", "generator", "format", "source", "commit", "path", "session_id", "group"} <= set(row)
    assert (out / "README.md").is_file() and json.loads((out / "card.json").read_text())["format"] == "hf"


def test_parquet_load_dataset(tmp_path: Path) -> None:
    from datasets import load_dataset

    out, corpus = _export(tmp_path, "parquet")
    files = {s: str(out / "data" / f"{s}-00000-of-00001.parquet") for s in ("train", "validation")}
    dd = load_dataset("parquet", data_files=files)
    got = {s: {row["id"]: tuple((m["role"], m["content"]) for m in row["messages"]) for row in dd[s]} for s in dd}
    assert got == _expected(corpus, "parquet")
    # the card's `configs` let the directory itself be loaded, splits and all
    by_dir = load_dataset(str(out))
    assert {s: sorted(by_dir[s]["id"]) for s in by_dir} == {s: sorted(got[s]) for s in got}


def test_openai_jsonl_validates_and_round_trips(tmp_path: Path) -> None:
    out, corpus = _export(tmp_path, "openai")
    got: dict[str, dict[str, tuple[tuple[str, str], ...]]] = {}
    tool_lines = 0
    for split in ("train", "validation"):
        got[split] = {}
        for i, line in enumerate((out / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()):
            assert openai_format.errors(line) == [], line
            obj = json.loads(line)
            assert set(obj) <= {"messages", "tools"}
            tool_lines += "tools" in obj
            msgs = []
            for m in obj["messages"]:
                if m.get("tool_calls"):
                    [call] = m["tool_calls"]
                    f = call["function"]
                    msgs.append(("assistant", json.dumps({"name": f["name"], "arguments": json.loads(f["arguments"])})))
                else:
                    msgs.append((m["role"], m["content"]))
            got[split][f"{split}-{i}"] = tuple(msgs)
    assert tool_lines == 2
    assert _by_content(got) == _by_content(_expected(corpus, "openai"))


def test_the_openai_validator_catches_what_openai_rejects() -> None:
    good = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    assert openai_format.errors(json.dumps(good)) == []
    bad = [
        {"messages": [{"role": "user", "content": "hi"}]},  # no assistant turn
        {"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi", "id": 1}, {"role": "assistant", "content": "x"}]},
        {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "tool_calls": [
            {"id": "c", "type": "function", "function": {"name": "f", "arguments": {"a": 1}}}]}]},  # not a string
        {"messages": [{"role": "user", "content": "hi"}, {"role": "tool", "content": "42"},
                      {"role": "assistant", "content": "x"}]},  # no tool_call_id
        {"conversations": []},
    ]
    for line in bad:
        assert openai_format.errors(json.dumps(line)), line


def _read_jsonl(path: Path) -> list[dict]:
    from datasets import load_dataset

    return list(load_dataset("json", data_files=str(path), split="train"))


def test_sharegpt_round_trips(tmp_path: Path) -> None:
    out, corpus = _export(tmp_path, "sharegpt")
    roles = {"system": "system", "human": "user", "gpt": "assistant", "function_call": "assistant",
             "observation": "tool"}
    got = {s: {row["id"]: tuple((roles[t["from"]], t["value"]) for t in row["conversations"])
               for row in _read_jsonl(out / f"{s}.jsonl")} for s in ("train", "validation")}
    assert got == _expected(corpus, "sharegpt")
    # the loop's own importer (the external generator) reads the plain conversations back
    plain = [row for s in ("train", "validation") for row in _read_jsonl(out / f"{s}.jsonl")
             if all(t["from"] in ("system", "human", "gpt") for t in row["conversations"])]
    assert plain
    for row in plain:
        assert to_messages(row) == tuple((roles[t["from"]], t["value"].strip()) for t in row["conversations"])


def test_alpaca_round_trips_single_turn_examples(tmp_path: Path) -> None:
    out, corpus = _export(tmp_path, "alpaca")
    got = {s: {row["id"]: to_messages(row) for row in _read_jsonl(out / f"{s}.jsonl")}
           for s in ("train", "validation")}
    want = _expected(corpus, "alpaca")
    strip = {s: {i: tuple((r, c.strip()) for r, c in m) for i, m in rows.items()} for s, rows in want.items()}
    assert got == strip
    assert not any(len([r for r, _ in m if r == "user"]) > 1 for rows in got.values() for m in rows.values())


@pytest.mark.parametrize("fmt", ["hf", "openai"])
def test_options_reach_the_files(tmp_path: Path, fmt: str) -> None:
    out, _ = _export(tmp_path, fmt, think="strip", fim="drop")
    text = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in out.rglob("*") if p.is_file()
                   and p.name not in ("README.md", "card.json"))
    assert "<think>" not in text and "<fim_prefix>" not in text
    keep, _ = _export(tmp_path / "keep", fmt)
    text = "".join(p.read_text(encoding="utf-8", errors="ignore") for p in keep.rglob("*") if p.is_file())
    assert "<think>" in text and "<fim_prefix>" in text


@pytest.mark.parametrize("fmt", ["hf", "parquet"])
def test_an_empty_validation_split_still_loads(tmp_path: Path, fmt: str) -> None:
    from datasets import load_dataset, load_from_disk

    from tests.export.corpora import SPECIALIST, T0, file_examples

    corpus = Corpus(specialist=SPECIALIST).add(file_examples(1), cycle_id="c", now=T0)
    export_corpus(corpus, ExportOptions(format=fmt, validation_share=1e-9), tmp_path / "x")
    if fmt == "hf":  # the DatasetDict keeps the empty split, with its columns
        dd = load_from_disk(str(tmp_path / "x" / "data"))
        assert (len(dd["train"]), len(dd["validation"])) == (2, 0) and "messages" in dd["validation"].column_names
    else:  # a file-based format leaves the empty split out, so the directory still loads
        dd = load_dataset(str(tmp_path / "x"))
        assert set(dd) == {"train"} and len(dd["train"]) == 2
