"""Worked rationales → think-format examples in the base model family's own tags, and incremental sessions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.harvester.base import Context, Skips
from services.harvester.core import HarvestPlan, harvest
from services.harvester.errors import UnknownTokenizerFamily
from services.harvester.formats import think_tags
from services.harvester.generators.sessions import Sessions, split_rationale

QUESTION = "What is the loop doing right now?"
THOUGHT = "A status call answers this; the last event was a training start."
ANSWER = "The current cycle is training the coder adapter on the harvested dataset from this morning."


def tokenizer_with(tiny_model_dir: Path, out: Path, extra: list[str]) -> Path:
    """The tiny model's tokenizer, saved again with `extra` special tokens (none: as it is)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_model_dir)
    if extra:
        tok.add_special_tokens({"additional_special_tokens": extra})
    out.mkdir(parents=True)
    tok.save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tokenizers(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tokenizers")
    return {
        "r1": tokenizer_with(tiny_model_dir, root / "r1", ["<think>", "</think>"]),
        "gemma4": tokenizer_with(tiny_model_dir, root / "gemma4", ["<|think|>", "<|channel>", "<channel|>"]),
        "magistral": tokenizer_with(tiny_model_dir, root / "magistral", ["[THINK]", "[/THINK]"]),
        "none": tokenizer_with(tiny_model_dir, root / "none", []),
    }


def session_file(path: Path, turns: list[tuple[str, str, str | None]]) -> Path:
    """One OpenAI-format conversation per (user, answer, reasoning_content) turn."""
    rows = []
    for i, (user, answer, reasoning) in enumerate(turns):
        msg: dict = {"role": "assistant", "content": answer}
        if reasoning:
            msg["reasoning_content"] = reasoning
        rows.append({"id": f"{path.stem}-{i}", "messages": [{"role": "system", "content": "You run the loop."},
                                                            {"role": "user", "content": user}, msg]})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    return path


def test_think_tags_per_family(tokenizers: dict[str, Path]) -> None:
    assert think_tags(tokenizers["r1"]) == ("<think>", "</think>")
    assert think_tags(tokenizers["gemma4"]) == ("<|channel>thought", "<channel|>")
    assert think_tags(tokenizers["magistral"]) == ("[THINK]", "[/THINK]")
    assert think_tags(None) == ("<think>", "</think>")  # no tokenizer given: today's tags
    with pytest.raises(UnknownTokenizerFamily, match="THINK_FAMILIES"):
        think_tags(tokenizers["none"])


def _harvest(sessions: Path, tokenizer_dir: Path | None):
    return harvest(HarvestPlan(specialist="orchestrator", sessions=sessions, tokenizer_dir=tokenizer_dir,
                               fim_share=0, tool_specs=()))


def test_logged_reasoning_in_each_familys_tags(tokenizers: dict[str, Path], tmp_path: Path) -> None:
    sessions = session_file(tmp_path / "s.jsonl", [(QUESTION, ANSWER, THOUGHT)])

    r1 = _harvest(sessions, tokenizers["r1"])
    [think] = [e for e in r1.examples if e.format == "think"]
    assert think.response == f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"
    assert think.messages[0].content == "You run the loop."

    gemma = _harvest(sessions, tokenizers["gemma4"])
    [think] = [e for e in gemma.examples if e.format == "think"]
    assert think.response == f"<|channel>thought\n{THOUGHT}\n<channel|>{ANSWER}"
    assert think.messages[0].role == "system" and think.messages[0].content == "<|think|>\nYou run the loop."

    assert [e.response for e in _harvest(sessions, None).examples if e.format == "think"] == [
        f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}"]

    # SmolLM2-like tokenizer (no think tokens): no think example, counted; the plain answer stays.
    plain = _harvest(sessions, tokenizers["none"])
    assert not [e for e in plain.examples if e.format == "think"]
    assert plain.skipped["think:unsupported_tokenizer"] == 1
    assert [e.response for e in plain.examples if e.category == "orchestration"] == [ANSWER]
    assert not any("think" in m.content for e in plain.examples for m in e.messages)


def test_inline_think_tags_and_step_by_step_answers(tmp_path: Path) -> None:
    steps = ("1. The trainer started at 09:00 and each epoch takes 20 minutes.\n"
             "2. Two epochs are configured for the coder adapter.")
    final = "So the coder adapter will finish training at about 09:40, before the evaluator runs."
    sessions = session_file(tmp_path / "s.jsonl", [
        (QUESTION, f"<think>{THOUGHT}</think>\n\n{ANSWER}", None),  # logged inline by a reasoning model
        ("When will training finish?", f"{steps}\n\n{final}", None),
        ("Broken?", "<think>never closed, the answer is cut", None),
    ])
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", sessions=sessions), skips=Skips())
    drafts = list(Sessions().run(ctx))
    assert ctx.skips.counts["sessions:think_unbalanced"] == 1
    turns = [(d.answer, d.thought) for d in drafts if d.task == "session_turn"]
    assert sorted(turns, key=str) == sorted([(ANSWER, None), (ANSWER, THOUGHT), (f"{steps}\n\n{final}", None),
                                             (final, steps)], key=str)
    assert split_rationale("Just one paragraph, so nothing to split.") is None
    assert split_rationale(f"No steps here.\n\n{final}") is None


def test_seen_session_files_are_skipped(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    session_file(root / "a.jsonl", [(QUESTION, ANSWER, None)])
    first = _harvest(root, None)
    assert first.by_generator["sessions"] > 0 and list(first.session_hashes) == [str(root / "a.jsonl")]

    shutil.copy(root / "a.jsonl", root / "renamed.jsonl")  # same content: mined already
    session_file(root / "b.jsonl", [("Please restart the judge service now.", ANSWER, None)])
    plan = HarvestPlan(specialist="orchestrator", sessions=root, fim_share=0, tool_specs=(),
                       seen_sessions=frozenset(first.session_hashes.values()))
    second = harvest(plan)
    assert second.skipped["sessions:unchanged"] == 2
    assert list(second.session_hashes) == [str(root / "b.jsonl")]
    assert {e.provenance.source for e in second.examples} == {"b.jsonl"}
