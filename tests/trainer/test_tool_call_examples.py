"""Multi-turn examples with tool calls go through the judge's dataset writer and the trainer: the
calls are rendered (and trained on, as assistant tokens), the tool results are context, and a
dataset mixing them with plain examples trains."""

from __future__ import annotations

import math
from pathlib import Path

from services.judge.core import JudgedDataset, JudgeReport
from services.judge.dataset import write_dataset
from services.trainer.train import CHATML_TRAINING_TEMPLATE, TrainConfig, load_dataset_dir, train_adapter
from shared.events import ChatMessage, Example, Provenance, ToolCall, ToolFunction

FAST = TrainConfig(epochs=1.0, lora_r=8, lora_alpha=16, learning_rate=1e-2, batch_size=4, max_length=160, max_steps=2)
CALL = ToolCall(id="call_0", function=ToolFunction(name="start_cycle", arguments='{"specialist": "coder"}'))


def conversation(i: int) -> Example:
    msgs = [ChatMessage(role="system", content="You run the loop."),
            ChatMessage(role="user", content=f"Start cycle {i} for the coder."),
            ChatMessage(role="assistant", content="", tool_calls=(CALL,)),
            ChatMessage(role="tool", content=f'{{"cycle_id": "c-{i}"}}', tool_call_id="call_0"),
            ChatMessage(role="assistant", content=f"Started cycle c-{i} for the coder.")]
    return Example.build(specialist="orchestrator", category="orchestration", generator="sessions", messages=msgs,
                         provenance=Provenance(source="s.jsonl"))


def plain(i: int) -> Example:
    return Example.build(specialist="orchestrator", category="reasoning", generator="test",
                         messages=[("user", f"What is {i} + {i}?"), ("assistant", f"The answer is {2 * i}.")],
                         provenance=Provenance(source="t"))


def dataset(tmp_path: Path) -> Path:
    examples = [conversation(i) if i % 2 else plain(i) for i in range(8)]
    report = JudgeReport(specialist="orchestrator", total=len(examples), kept=len(examples), dropped={},
                         by_generator={}, by_category={}, mix={})
    write_dataset(JudgedDataset(dataset_id="d", specialist="orchestrator", examples=examples, rejected=[],
                                report=report), tmp_path / "ds")
    return tmp_path / "ds"


def test_tool_calls_survive_the_dataset_and_are_assistant_tokens(tiny_model: Path, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    rows = load_dataset_dir(dataset(tmp_path))
    multi = next(r["messages"] for r in rows if len(r["messages"]) == 5)
    assert multi[2]["tool_calls"][0]["function"] == {"name": "start_cycle", "arguments": '{"specialist": "coder"}'}
    assert multi[3]["tool_call_id"] == "call_0"
    tok = AutoTokenizer.from_pretrained(tiny_model)
    out = tok.apply_chat_template(multi, chat_template=CHATML_TRAINING_TEMPLATE, return_assistant_tokens_mask=True,
                                  return_dict=True)
    trained = tok.decode([t for t, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m])
    assert '<tool_call>\n{"name": "start_cycle", "arguments": {"specialist": "coder"}}\n</tool_call>' in trained
    assert "Started cycle c-1 for the coder." in trained and "cycle_id" not in trained  # the result is context
    text = tok.apply_chat_template(multi, tokenize=False, chat_template=CHATML_TRAINING_TEMPLATE)
    assert '<|im_start|>tool\n{"cycle_id": "c-1"}<|im_end|>' in text
    plain_row = next(r["messages"] for r in rows if len(r["messages"]) == 2)
    # a plain example renders exactly as before the tool fields existed
    assert tok.apply_chat_template(plain_row, tokenize=False, chat_template=CHATML_TRAINING_TEMPLATE) == \
        tok.apply_chat_template([{"role": m["role"], "content": m["content"]} for m in plain_row], tokenize=False)


def test_a_mixed_dataset_trains(tiny_model: Path, tmp_path: Path) -> None:
    metrics = train_adapter(dataset(tmp_path), tiny_model, tmp_path / "adapter", FAST)
    assert metrics.examples == 8 and metrics.steps == 2 and math.isfinite(metrics.train_loss)
