"""Parse session logs into one shape: conversations of turns (a user request and what followed).

Formats are detected per line (or per item of a .json array), so one file may mix them:
- OpenAI: `{"messages": [{"role", "content", "tool_calls"?}, ...]}`
- ShareGPT: `{"conversations": [{"from": "human|gpt|system|function_call|observation", "value"}]}`
- agent transcripts: one event per line, `{"type": "user"|"assistant", "message": {"content": [...]}}`,
  grouped by `session_id`/`sessionId` (else one conversation per file).
A malformed line is counted and skipped; the rest of the file goes on.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.harvester.base import Skips
from shared.chat import content_text

NAME = "sessions"
SUFFIXES = (".jsonl", ".ndjson", ".json")
_INTERRUPTED = "[Request interrupted"
_INLINE_THINK = re.compile(r"<(think|thinking)>(.*?)</\1>", re.DOTALL | re.IGNORECASE)
_STRAY_THINK = re.compile(r"</?(?:think|thinking)>", re.IGNORECASE)


@dataclass
class ToolCall:
    name: str
    arguments: dict[str, Any]
    id: str = ""


@dataclass
class Step:
    """What followed a request, in order: an assistant message (text and/or calls) or a tool result."""

    role: str  # "assistant" | "tool"
    content: str = ""
    calls: list[ToolCall] = field(default_factory=list)
    call_id: str = ""  # a tool result: the call it answers


@dataclass
class Turn:
    user: str
    system: str | None = None
    answers: list[str] = field(default_factory=list)
    tool_calls: list[ToolCall] = field(default_factory=list)
    thinking: list[str] = field(default_factory=list)  # the model's own reasoning, when logged
    error: str | None = None  # why the turn must not be trained on
    steps: list[Step] = field(default_factory=list)  # the whole exchange, tool calls and results included

    @property
    def answer(self) -> str:
        return "\n\n".join(a.strip() for a in self.answers if a.strip())


@dataclass
class Conversation:
    session_id: str
    source: str
    turns: list[Turn] = field(default_factory=list)
    route: str | None = None  # the specialist a router served the last turn with (`"route"` in the line)
    tools: list[dict[str, Any]] = field(default_factory=list)  # OpenAI `tools` logged with the session




def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            val = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return {"_raw": raw}
        return val if isinstance(val, dict) else {"value": val}
    return {}


class _Builder:
    """Accumulates messages into turns; the same logic serves all three formats."""

    def __init__(self, conv: Conversation) -> None:
        self.conv = conv
        self.system: str | None = None
        self.cur: Turn | None = None

    def system_msg(self, text: str) -> None:
        self.system = text.strip() or None

    def user(self, text: str) -> None:
        if text.strip().startswith(_INTERRUPTED):
            self.fail("interrupted")
            return
        if not text.strip():
            return
        self.cur = Turn(user=text.strip(), system=self.system)
        self.conv.turns.append(self.cur)

    def assistant(self, text: str) -> None:
        if self.cur is None or not text:
            return
        # Reasoning models served without a reasoning parser log their thought inline: keep it
        # apart from the answer, so the plain example carries no tags the base model lacks.
        for m in _INLINE_THINK.finditer(text):
            self.think(m.group(2))
        text = _INLINE_THINK.sub("", text)
        if _STRAY_THINK.search(text):
            self.fail("think_unbalanced")
        if text.strip():
            self.cur.answers.append(text)
            last = self.cur.steps[-1] if self.cur.steps else None
            if last is not None and last.role == "assistant" and not last.calls:
                last.content = f"{last.content}\n\n{text.strip()}"  # one message split over events
            else:
                self.cur.steps.append(Step("assistant", text.strip()))

    def think(self, text: str) -> None:
        if self.cur is not None and text.strip():
            self.cur.thinking.append(text.strip())

    def tool(self, name: str, arguments: Any, call_id: str = "") -> None:
        if self.cur is not None and name:
            call = ToolCall(name, _arguments(arguments), call_id or f"call_{sum(map(len, self._calls()))}")
            self.cur.tool_calls.append(call)
            last = self.cur.steps[-1] if self.cur.steps else None
            if last is not None and last.role == "assistant":
                last.calls.append(call)
            else:
                self.cur.steps.append(Step("assistant", calls=[call]))

    def _calls(self) -> list[list[ToolCall]]:
        return [t.tool_calls for t in self.conv.turns]

    def tool_result(self, content: str, call_id: str = "") -> None:
        """What a tool returned; without an id it answers the oldest call not yet answered."""
        if self.cur is None:
            return
        answered = {s.call_id for s in self.cur.steps if s.role == "tool"}
        if not call_id:
            call_id = next((c.id for c in self.cur.tool_calls if c.id not in answered), "")
        self.cur.steps.append(Step("tool", content, call_id=call_id))

    def fail(self, reason: str) -> None:
        if self.cur is not None and self.cur.error is None:
            self.cur.error = reason


def _is_error(d: dict[str, Any]) -> bool:
    return bool(d.get("is_error") or d.get("isApiErrorMessage") or d.get("error")) or "error" in (
        d.get("stop_reason"), d.get("finish_reason"))


def parse_openai(obj: dict[str, Any], conv: Conversation) -> None:
    b = _Builder(conv)
    for m in obj.get("messages") or []:
        if not isinstance(m, dict):
            continue
        role, content = m.get("role"), m.get("content")
        if role == "system":
            b.system_msg(content_text(content))
        elif role == "user":
            b.user(content_text(content))
        elif role == "assistant":
            b.assistant(content_text(content))
            if isinstance(m.get("reasoning_content"), str):
                b.think(m["reasoning_content"])
            for tc in m.get("tool_calls") or []:
                fn = tc.get("function", {}) if isinstance(tc, dict) else {}
                call_id = str(tc.get("id") or "") if isinstance(tc, dict) else ""
                b.tool(str(fn.get("name", "")), fn.get("arguments"), call_id)
            if _is_error(m):
                b.fail("error")
        elif role == "tool":
            if _is_error(m) or str(content_text(content)).startswith("Error"):
                b.fail("tool_error")
            b.tool_result(content_text(content), str(m.get("tool_call_id") or ""))
    if _is_error(obj):
        b.fail("error")
    if isinstance(obj.get("tools"), list):
        conv.tools = [t for t in obj["tools"] if isinstance(t, dict)]


_SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                   "model": "assistant", "chatgpt": "assistant", "system": "system",
                   "function_call": "tool_call", "observation": "tool", "tool": "tool"}


def parse_sharegpt(obj: dict[str, Any], conv: Conversation) -> None:
    b = _Builder(conv)
    if isinstance(obj.get("system"), str):
        b.system_msg(obj["system"])
    for m in obj.get("conversations") or []:
        if not isinstance(m, dict):
            continue
        role, value = _SHAREGPT_ROLES.get(str(m.get("from", "")).lower()), str(m.get("value") or "")
        if role == "system":
            b.system_msg(value)
        elif role == "user":
            b.user(value)
        elif role == "assistant":
            b.assistant(value)
        elif role == "tool_call":
            call = _arguments(value)
            b.tool(str(call.get("name", "")), call.get("arguments", {}))
        elif role == "tool":
            if value.startswith("Error") or _is_error(m):
                b.fail("tool_error")
            b.tool_result(value)


def apply_agent_event(ev: dict[str, Any], b: _Builder) -> None:
    msg = ev.get("message") if isinstance(ev.get("message"), dict) else {}
    content = msg.get("content")
    kind = ev.get("type")
    if kind == "system":
        b.system_msg(content_text(content))
    elif kind == "user":
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        text = "\n".join(str(p.get("text", "")) for p in parts if isinstance(p, dict) and p.get("type") == "text")
        if any(isinstance(p, dict) and p.get("type") == "tool_result" and p.get("is_error") for p in parts):
            b.fail("tool_error")
        for p in parts:
            if isinstance(p, dict) and p.get("type") == "tool_result":
                b.tool_result(content_text(p.get("content")), str(p.get("tool_use_id") or ""))
        if text.strip():
            b.user(text)
    elif kind == "assistant":
        parts = content if isinstance(content, list) else [{"type": "text", "text": content or ""}]
        for p in parts:
            if not isinstance(p, dict):
                continue
            if p.get("type") == "text":
                b.assistant(str(p.get("text", "")))
            elif p.get("type") == "thinking":
                b.think(str(p.get("thinking", "")))
            elif p.get("type") == "tool_use":
                b.tool(str(p.get("name", "")), p.get("input", {}), str(p.get("id") or ""))
        if _is_error(ev) or _is_error(msg):
            b.fail("error")


def detect(obj: Any) -> str | None:
    if not isinstance(obj, dict):
        return None
    if isinstance(obj.get("messages"), list):
        return "openai"
    if isinstance(obj.get("conversations"), list):
        return "sharegpt"
    if obj.get("type") in ("user", "assistant", "system") and "message" in obj:
        return "agent"
    if obj.get("type") in ("summary", "result", "file-history-snapshot", "progress"):
        return "agent_meta"  # bookkeeping lines of agent transcripts: nothing to learn
    return None


def parse_file(path: Path, root: Path, skips: Skips, data: bytes | None = None) -> list[Conversation]:
    """Conversations of one session file (`data`: its bytes, when already read)."""
    rel = path.name if path == root else path.relative_to(root).as_posix()
    try:
        text = (path.read_bytes() if data is None else data).decode("utf-8")
    except UnicodeDecodeError:
        skips.add(NAME, "not_utf8")
        return []
    except OSError:
        skips.add(NAME, "unreadable")
        return []
    items: list[tuple[int, Any]] = []
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            skips.add(NAME, "malformed_file")
            return []
        items = list(enumerate(data if isinstance(data, list) else [data], 1))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                items.append((n, json.loads(line)))
            except json.JSONDecodeError:
                skips.add(NAME, "malformed_line")
    convs: list[Conversation] = []
    agents: dict[str, _Builder] = {}
    for n, obj in items:
        fmt = detect(obj)
        if fmt == "openai" or fmt == "sharegpt":
            sid = str(obj.get("id") or obj.get("session_id") or f"{rel}#{n}")
            conv = Conversation(sid, rel, route=obj["route"] if isinstance(obj.get("route"), str) else None)
            (parse_openai if fmt == "openai" else parse_sharegpt)(obj, conv)
            convs.append(conv)
        elif fmt == "agent":
            sid = str(obj.get("session_id") or obj.get("sessionId") or rel)
            if sid not in agents:
                agents[sid] = _Builder(Conversation(sid, rel))
                convs.append(agents[sid].conv)
            apply_agent_event(obj, agents[sid])
        elif fmt is None:
            skips.add(NAME, "unknown_format")
    return convs


def session_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES and not p.is_symlink())
