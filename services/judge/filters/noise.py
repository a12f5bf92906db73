"""Terminal and harness noise: ANSI escapes, progress bars, agent-harness XML blocks.

Noise is stripped from every message; the example is dropped when less than `min_clean_share`
of its response survives (then it was mostly a dump, not an answer).
"""

from __future__ import annotations

import re

from services.judge.verdict import KEEP, Verdict, drop
from shared.events import Example

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
# Blocks injected by agent harnesses, never written by the user or the model: a hyphenated tag
# name (`<task-notification>`, `<system-reminder>`, `<local-command-stdout>`) with its content.
_HARNESS_BLOCK = re.compile(r"<([a-z]+(?:-[a-z]+)+)(?:\s[^>]*)?>.*?</\1>", re.DOTALL)
_PROGRESS_LINE = re.compile(
    r"^.*(?:\[[=#>\-. ]{5,}\]|[█▉▊▋▌▍▎▏░▒▓]{5,}|\d{1,3}%\|).*$", re.MULTILINE
)
_CARRIAGE = re.compile(r"^[^\n]*\r(?!\n)", re.MULTILINE)  # text overwritten by a carriage return
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_BLANK_RUNS = re.compile(r"\n{3,}")


def strip_noise(text: str) -> str:
    text = _ANSI.sub("", text)
    text = _CARRIAGE.sub("", text)
    text = _HARNESS_BLOCK.sub("", text)
    text = _PROGRESS_LINE.sub("", text)
    text = _CONTROL.sub("", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _visible(text: str) -> int:
    return sum(not c.isspace() for c in text)


class NoiseFilter:
    name = "noise"

    def __init__(self, *, min_clean_share: float = 0.5) -> None:
        self.min_clean_share = min_clean_share

    def filter(self, example: Example) -> Verdict:
        # model_copy: a multi-turn message keeps its tool calls / tool_call_id
        cleaned = tuple(m.model_copy(update={"content": strip_noise(m.content)}) for m in example.messages)
        before = _visible(example.response)
        after = sum(_visible(m.content) for m in cleaned if m.role == "assistant")
        if before and after < self.min_clean_share * before:
            return drop("noise")
        if any(m.role == "user" for m in example.messages) and not any(
            m.content for m in cleaned if m.role == "user"
        ):
            return drop("noise")  # the prompt was nothing but a harness notification
        if cleaned == example.messages:
            return KEEP
        return Verdict(True, example=example.model_copy(update={"messages": cleaned}))
