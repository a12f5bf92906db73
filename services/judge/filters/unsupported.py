"""Answers that state a checkable fact their prompt does not show: a version, a SHA, a PR/issue
number or a file path. A model trained on them learns to invent such facts (a bot commit's
"Bump foo from 1.2.3 to 1.2.4 (#512)" answered from a diff that shows neither).

Each assistant message is checked against everything before it in the conversation (user,
system and tool messages, earlier assistant turns and their tool calls), so a multi-turn answer
may repeat what a tool result showed. Paths inside fenced code are not checked: written code may
name a new file; versions, SHAs and issue numbers are checked everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from services.judge.verdict import KEEP, Verdict, drop
from shared.events import ChatMessage, Example

_FENCE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_URL = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)
# 1.2.3, v1.2, 2.0.0rc1, ==4.5.6 — two-part numbers without a "v" are left alone (0.5 is a ratio)
_VERSION = re.compile(r"(?<![\w.])(?:v\d+\.\d+(?:\.\d+)*|\d+\.\d+\.\d+(?:\.\d+)*)(?:[-.]?(?:rc|a|b|dev|post)\d*)?"
                      r"(?!\w)", re.IGNORECASE)
_IPV4 = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$")
_SHA = re.compile(r"(?<![\w/.-])[0-9a-f]{7,40}(?![\w-])")
_ISSUE = re.compile(r"(?<![\w&#/])#(\d+)\b|\b(?:GH|PR)-?\s?#?(\d+)\b")
_EXT = r"(?:py|pyi|md|rst|txt|toml|ya?ml|json|cfg|ini|js|ts|tsx|jsx|sh|go|rs|lock|c|h|cc|cpp|hpp|java|rb|sql|html|css)"
_PATH = re.compile(rf"(?<![\w/.@-])(?:[\w.-]+/)+[\w-][\w.-]*\.{_EXT}(?![\w/])")
# a bare file name only for extensions no project or product name ends in ("llama.cpp", "Vue.js")
_BARE_FILE = re.compile(r"(?<![\w/.@-])[\w-][\w.-]*\.(?:py|md|rst|toml|ya?ml|cfg|ini|lock)(?![\w/])")


def _prose(text: str) -> str:
    return _URL.sub(" ", _FENCE.sub(" ", text))


def facts(text: str) -> Iterator[tuple[str, str]]:
    """(kind, value) for each checkable fact stated in `text`."""
    bare = _URL.sub(" ", text)
    for m in _VERSION.finditer(bare):
        if not _IPV4.match(m.group(0)):  # `0.0.0.0`, `127.0.0.1`: an address in code, not a release
            yield "version", m.group(0)
    for m in _SHA.finditer(bare):
        s = m.group(0)
        if any(c.isdigit() for c in s) and any(c.isalpha() for c in s):  # "decade" and "1234567" are not SHAs
            yield "sha", s
    for m in _ISSUE.finditer(bare):
        yield "issue", m.group(1) or m.group(2)
    if _is_tool_call(text):
        return  # choosing a file to read is an action, not a claim about the prompt
    prose = _prose(text)
    for m in _PATH.finditer(prose):
        yield "path", m.group(0)
    for m in _BARE_FILE.finditer(prose):
        yield "path", m.group(0)


def _is_tool_call(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, dict) and "name" in value and "arguments" in value


def _context_text(messages: tuple[ChatMessage, ...]) -> str:
    parts: list[str] = []
    for m in messages:
        parts.append(m.content)
        for call in getattr(m, "tool_calls", None) or ():  # multi-turn examples carry the calls they made
            parts.append(call.model_dump_json() if hasattr(call, "model_dump_json") else str(call))
    return "\n".join(parts)


def supported(kind: str, value: str, context: str, lowered: str, answer: str = "") -> bool:
    if kind == "version":
        return value.lstrip("vV") in context
    if kind == "sha":
        return value.lower() in lowered  # an abbreviated SHA of a full one shown is supported
    if kind == "issue":
        return re.search(rf"(?:#|\b(?:GH|PR)-?\s?#?){value}\b", context, re.IGNORECASE) is not None
    # a path: named as written, or as the module it is (services/x/y.py <-> services.x.y), in the
    # prompt or beside it in the answer ("`pkg.mod.f` (pkg/mod.py, line 3)" restates the module)
    if value in context:
        return True
    stem = value.rsplit(".", 1)[0].removesuffix("/__init__")
    module = stem.replace("/", ".")
    return "/" in stem and (module in context or re.search(rf"{re.escape(module)}(?![\w])", answer) is not None)


# Recall of the project's own documentation is knowledge to learn, not an invention: a docs
# section naming the file or release a feature lives in is what the model should remember. Only
# what no reader could know from the project as it stands (a SHA, an issue number) is checked there.
CHECKED_KINDS: dict[str, frozenset[str]] = {"docs": frozenset({"sha", "issue"})}
ALL_KINDS = frozenset({"version", "sha", "issue", "path"})


class UnsupportedFactFilter:
    """Drops an example whose answer states a version, SHA, issue number or path its prompt lacks."""

    name = "unsupported_fact"

    def filter(self, example: Example) -> Verdict:
        if example.format == "fim":
            return KEEP  # the middle of a file is code, not a claim about the prompt
        kinds = CHECKED_KINDS.get(example.generator, ALL_KINDS)
        for i, message in enumerate(example.messages):
            if message.role != "assistant":
                continue
            context = _context_text(example.messages[:i])
            lowered = context.lower()
            for kind, value in facts(message.content):
                if kind in kinds and not supported(kind, value, context, lowered, message.content):
                    return drop(f"unsupported_fact:{kind}")
        return KEEP
