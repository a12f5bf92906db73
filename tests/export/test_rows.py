"""The pure core of the export: which examples leave, on which side, in which shape."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

from ouro.export.rows import (
    ExportError,
    ExportOptions,
    alpaca_row,
    export_rows,
    group_key,
    openai_row,
    sharegpt_row,
    strip_think,
)
from services.judge.corpus import Corpus
from tests.export.corpora import (
    SPECIALIST,
    T0,
    T1,
    commit_examples,
    external_examples,
    file_examples,
    make_corpus,
    session_examples,
    tool_call,
)


def _big() -> Corpus:
    return Corpus(specialist=SPECIALIST).add(
        [*file_examples(40), *commit_examples(40), *session_examples(40), *external_examples(40)],
        cycle_id="c1", now=T0)


def _sides(corpus: Corpus, **kw: object) -> dict[str, str]:
    sel = export_rows(corpus, ExportOptions(format="hf", validation_share=0.3, **kw))  # type: ignore[arg-type]
    return {r.example.id: r.split for r in sel.rows}


def test_no_commit_session_or_file_is_split_across_sides() -> None:
    corpus = _big()
    sides = _sides(corpus)
    assert set(sides.values()) == {"train", "validation"}
    by: dict[str, set[str]] = defaultdict(set)
    for e in corpus.live():
        p = e.example.provenance
        for kind, value in (("commit", p.commit), ("session", p.session_id)):
            if value:
                by[f"{kind}:{value}"].add(sides[e.example.id])
        if p.path and not p.commit and not p.path.endswith(".jsonl"):  # a file mined at HEAD
            by[f"path:{p.path}"].add(sides[e.example.id])
    multi = [k for k, v in by.items() if len(v) > 1]
    assert not multi, multi
    # the groups really hold several examples each, so the check above has teeth
    assert sum(1 for e in corpus.live() if e.example.provenance.commit == "00" * 20) == 2
    # rows of an external dataset are independent: they land on both sides
    ext = {sides[e.example.id] for e in corpus.live() if e.example.generator == "external"}
    assert ext == {"train", "validation"}


def test_the_split_is_stable_and_grows_without_moving_examples() -> None:
    corpus = _big()
    first = _sides(corpus)
    assert _sides(corpus) == first
    grown = corpus.add([*file_examples(60), *commit_examples(60)], cycle_id="c2", now=T1)
    again = _sides(grown)
    assert {i: again[i] for i in first} == first
    assert _sides(corpus, split_salt="other") != first


def test_each_example_is_on_exactly_one_side_and_the_share_is_about_right() -> None:
    sel = export_rows(_big(), ExportOptions(format="hf", validation_share=0.3))
    ids = [r.example.id for r in sel.rows]
    assert len(ids) == len(set(ids))
    groups = {r.group: r.split for r in sel.rows}
    share = sum(s == "validation" for s in groups.values()) / len(groups)
    assert 0.15 < share < 0.45
    assert all(r.split == "train" for r in export_rows(_big(), ExportOptions(format="hf", validation_share=0)).rows)


def test_group_keys() -> None:
    [c] = commit_examples(1)[:1]
    [s] = session_examples(1)[:1]
    [f] = file_examples(1)[:1]
    [x] = external_examples(1)
    assert group_key(c) == f"commit:{'00' * 20}"
    assert group_key(s) == "session:session-0"
    assert group_key(f) == "path:pkg/m0.py"
    assert group_key(x) == "row:data/alpaca_cleaned.jsonl:1"


@pytest.mark.parametrize(("system", "answer", "want_system"), [
    (None, "<think>\nadd them\n</think>\n\nIt is 3.", None),
    (None, "[THINK]\nadd them\n[/THINK]\n\nIt is 3.", None),
    ("<|think|>\nBe brief.", "<|channel>thought\nadd them\n<channel|>It is 3.", "Be brief."),
    ("<|think|>", "<|channel>thought\nadd them\n<channel|>It is 3.", None),
])
def test_strip_think_removes_every_familys_tags(system: str | None, answer: str, want_system: str | None) -> None:
    msgs = ((("system", system),) if system else ()) + (("user", "1+2?"), ("assistant", answer))
    want = ((("system", want_system),) if want_system else ()) + (("user", "1+2?"), ("assistant", "It is 3."))
    assert strip_think(msgs) == want


def test_think_kept_or_stripped() -> None:
    corpus = make_corpus()
    kept = export_rows(corpus, ExportOptions(format="hf", think="keep"))
    think = [r for r in kept.rows if r.format == "think"]
    assert think and all("<think>" in r.messages[-1][1] for r in think)
    stripped = export_rows(corpus, ExportOptions(format="hf", think="strip"))
    assert not any("<think>" in c for r in stripped.rows for _, c in r.messages)
    assert not any(r.format == "think" for r in stripped.rows)
    # a session answer logged with its reasoning strips down to the plain answer already there: one copy
    assert stripped.left_out["think_stripped_duplicate"] == len(think)
    assert len(stripped.rows) == len(kept.rows) - len(think)


def test_fim_kept_or_dropped() -> None:
    corpus = make_corpus()
    kept = export_rows(corpus, ExportOptions(format="openai", fim="keep"))
    dropped = export_rows(corpus, ExportOptions(format="openai", fim="drop"))
    assert sum(r.format == "fim" for r in kept.rows) == 1
    assert not any(r.format == "fim" for r in dropped.rows)
    assert dropped.left_out["fim_dropped"] == 1


def test_retired_examples_never_leave() -> None:
    corpus = make_corpus()
    sel = export_rows(corpus, ExportOptions(format="hf"))
    retired = {i for i, e in corpus.entries.items() if not e.live}
    assert len(retired) == 2 and not retired & {r.example.id for r in sel.rows}


def test_openai_tool_call_shape() -> None:
    corpus = Corpus(specialist=SPECIALIST).add([tool_call("find retries", "search", {"query": "retry"})],
                                               cycle_id="c", now=T0)
    [row] = export_rows(corpus, ExportOptions(format="openai")).rows
    out = openai_row(row)
    system, user, assistant = out["messages"]
    assert system["role"] == "system" and user == {"role": "user", "content": "find retries"}
    assert set(assistant) == {"role", "tool_calls"}
    [call] = assistant["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"]["name"] == "search" and json.loads(call["function"]["arguments"]) == {"query": "retry"}
    assert [t["function"]["name"] for t in out["tools"]] == ["search", "open_file", "run_tests"]
    assert sharegpt_row(row)["conversations"][-1]["from"] == "function_call"


def test_json_answers_that_are_not_tool_calls_stay_text() -> None:
    corpus = Corpus(specialist=SPECIALIST).add(session_examples(1), cycle_id="c", now=T0)
    for row in export_rows(corpus, ExportOptions(format="openai")).rows:
        assert all("tool_calls" not in m for m in openai_row(row)["messages"])


def test_alpaca_takes_single_turn_examples_only() -> None:
    sel = export_rows(make_corpus(), ExportOptions(format="alpaca"))
    assert sel.left_out["alpaca_not_single_turn"] == 1
    assert all(set(alpaca_row(r)) == {"id", "instruction", "input", "output", "system"} for r in sel.rows)
    [multi] = [r for r in export_rows(make_corpus(), ExportOptions(format="hf")).rows if len(r.messages) == 4]
    with pytest.raises(ExportError, match="not single-turn"):
        alpaca_row(multi)


@pytest.mark.parametrize(("kw", "word"), [
    ({"format": "csv"}, "unknown format 'csv'"), ({"format": "hf", "validation_share": 1.0}, "validation_share"),
    ({"format": "hf", "think": "drop"}, "think"), ({"format": "hf", "fim": "maybe"}, "fim"),
])
def test_bad_options_are_named(kw: dict[str, object], word: str) -> None:
    with pytest.raises(ExportError, match=word):
        export_rows(make_corpus(), ExportOptions(**kw))  # type: ignore[arg-type]
