"""Structural validity: tool calls parse, `<think>` tags balance, FIM prompts are well formed.

A malformed tool call in training data teaches the model to emit calls the runtime cannot parse.
"""

from __future__ import annotations

import json
import re

from services.judge.verdict import KEEP, Verdict, drop
from shared.events import Example
from shared.think import has_thought, think_balanced

_TOOL_CALL_TAG = re.compile(r"<tool_call>(.*?)</tool_call>", re.DOTALL)
_FENCED_JSON = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
# StarCoder/SmolLM2 style and Qwen style sentinels; either family is accepted, never mixed.
FIM_STYLES: tuple[tuple[str, str, str], ...] = (
    ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
)
_ANY_FIM = re.compile(r"<\|?fim_(?:prefix|suffix|middle|pad)\|?>")


def tool_call_candidates(content: str) -> list[str]:
    """The JSON texts an assistant message offers as tool calls (tagged, fenced, or the whole message)."""
    tagged = _TOOL_CALL_TAG.findall(content)
    if tagged:
        return tagged
    fenced = _FENCED_JSON.findall(content)
    if fenced:
        return fenced
    stripped = content.strip()
    return [stripped] if stripped.startswith(("{", "[")) else []


def tool_call_error(raw: str) -> str | None:
    try:
        call = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return "validity:tool_call_json"
    calls = call if isinstance(call, list) else [call]
    for c in calls:
        if not isinstance(c, dict) or not isinstance(c.get("name"), str) or "arguments" not in c:
            return "validity:tool_call_fields"
        args = c["arguments"]
        if isinstance(args, str):  # OpenAI sends arguments as a JSON string
            try:
                args = json.loads(args)
            except json.JSONDecodeError:
                return "validity:tool_call_json"
        if not isinstance(args, dict):
            return "validity:tool_call_fields"
    return None


def fim_well_formed(prompt: str) -> bool:
    for prefix, suffix, middle in FIM_STYLES:
        counts = [prompt.count(t) for t in (prefix, suffix, middle)]
        if counts == [1, 1, 1]:
            p, s, m = (prompt.index(t) for t in (prefix, suffix, middle))
            # PSM or SPM order; the middle sentinel always comes last, where the model writes
            return max(p, s) < m and len(_ANY_FIM.findall(prompt)) == 3
    return False


class ValidityFilter:
    name = "validity"

    def filter(self, example: Example) -> Verdict:
        assistant = [m.content for m in example.messages if m.role == "assistant"]
        if example.category == "tool_use":
            candidates = [c for content in assistant for c in tool_call_candidates(content)]
            if not candidates:
                return drop("validity:no_tool_call")
            for raw in candidates:
                error = tool_call_error(raw)
                if error:
                    return drop(error)
        if not all(think_balanced(c) for c in assistant):
            return drop("validity:think_unbalanced")
        if example.format == "think" and not any(has_thought(c) for c in assistant):
            return drop("validity:think_missing")
        if example.format == "fim":
            if not fim_well_formed(example.prompt) or _ANY_FIM.search(example.response):
                return drop("validity:fim_malformed")
        elif any(_ANY_FIM.search(m.content) for m in example.messages):
            return drop("validity:stray_fim_token")
        return KEEP
