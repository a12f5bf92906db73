"""Corpus entries → export rows: which examples leave, on which side of the split, in which shape.

Pure functions over a `Corpus` (no bus, no files): `export_rows(corpus, options)` picks the live
examples, applies the think/FIM options, assigns each to train or validation by a stable hash of
its group, and `to_format(row, fmt)` shapes one row for `hf`/`parquet`, `openai`, `sharegpt` or
`alpaca`. What was left out, and why, is counted in `Selection.left_out` for the card.

Tool calls leave exactly as the corpus holds them: a multi-turn session's assistant messages keep
their `tool_calls` and its tool results their `tool_call_id` (OpenAI's shape, so `openai` writes
them as they are and `sharegpt` as `function_call` / `observation` turns), and a single-call
tool-use example (a JSON `{"name", "arguments"}` answer under the harvester's tool prompt) becomes
an assistant `tool_calls` message. The tools offered go out with their argument schemas, read
from the JSON schemas the tool prompt lists.

The split: every example belongs to one group, the first of its provenance's commit, session id
and path (a row of a data file, an external dataset's line, is its own group), else its source.
The group's hash decides the side, so examples mined from one commit, one session or one file
at HEAD are never on both sides, and a later export of a grown corpus keeps earlier examples
where they were.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from services.harvester.formats import THINK_FAMILIES
from services.harvester.generators.sessions import TOOL_SYSTEM, TOOLS_INTRO
from services.judge.corpus import Corpus, CorpusEntry
from shared.events import ChatMessage, Example
from shared.think import THINK_TAGS

FORMATS = ("hf", "parquet", "openai", "sharegpt", "alpaca")
Format = Literal["hf", "parquet", "openai", "sharegpt", "alpaca"]
SINGLE_TURN = (["user", "assistant"], ["system", "user", "assistant"])  # what alpaca can hold
DATA_FILE_SUFFIXES = (".jsonl", ".ndjson", ".json", ".parquet", ".csv")


class ExportError(ValueError):
    """A request the export cannot satisfy; the message says what to change."""


@dataclass(frozen=True)
class ExportOptions:
    format: str
    validation_share: float = 0.1
    split_salt: str = ""  # a different salt draws a different (still group-respecting) split
    think: Literal["keep", "strip"] = "keep"
    fim: Literal["keep", "drop"] = "keep"

    def check(self) -> None:
        if self.format not in FORMATS:
            raise ExportError(f"unknown format {self.format!r}; one of: {', '.join(FORMATS)}")
        if not 0.0 <= self.validation_share < 1.0:
            raise ExportError(f"`validation_share` must be in [0, 1), got {self.validation_share}")
        if self.think not in ("keep", "strip"):
            raise ExportError(f"`think` must be keep or strip, got {self.think!r}")
        if self.fim not in ("keep", "drop"):
            raise ExportError(f"`fim` must be keep or drop, got {self.fim!r}")


@dataclass(frozen=True)
class Row:
    """One example as it leaves: its messages after the think/FIM options, its side and group."""

    entry: CorpusEntry
    chat: tuple[ChatMessage, ...]  # with tool calls and tool results, as the corpus holds them
    format: str  # chat | fim | think (a think example whose tags were stripped is chat)
    split: Literal["train", "validation"]
    group: str

    @property
    def example(self) -> Example:
        return self.entry.example

    @property
    def messages(self) -> tuple[tuple[str, str], ...]:
        """(role, content) of each message: what formats without tool calls (alpaca, tables) hold."""
        return tuple((m.role, m.content) for m in self.chat)


@dataclass
class Selection:
    rows: list[Row]
    left_out: Counter[str] = field(default_factory=Counter)  # live examples not exported: reason -> count

    def split(self, side: str) -> list[Row]:
        return [r for r in self.rows if r.split == side]


# ---------------------------------------------------------------------- groups and split


def group_key(ex: Example) -> str:
    p = ex.provenance
    if p.commit:
        return f"commit:{p.commit}"
    if p.session_id:
        return f"session:{p.session_id}"
    if p.path:
        if p.lines is not None and p.path.endswith(DATA_FILE_SUFFIXES):
            return f"row:{p.path}:{p.lines[0]}"  # rows of a dataset are independent items
        return f"path:{p.path}"
    return f"source:{p.source}"


def side(group: str, share: float, salt: str = "") -> Literal["train", "validation"]:
    """The side of a group: the first 64 bits of sha256(salt, group) below `share` → validation."""
    h = int.from_bytes(hashlib.sha256(f"{salt}\x00{group}".encode()).digest()[:8], "big")
    return "validation" if h / 2**64 < share else "train"


# ---------------------------------------------------------------------- think and FIM

_THINK_SPANS = [re.compile(re.escape(o) + r".*?" + re.escape(c) + r"\s*", re.DOTALL) for o, c in THINK_TAGS.values()]
_THINK_SWITCHES = tuple(f.system for f in THINK_FAMILIES.values() if f.system)


def _unthought(role: str, content: str) -> str | None:
    """`content` without think spans (assistant) or think switches (system); None: drop the turn."""
    if role == "assistant":
        for span in _THINK_SPANS:
            content = span.sub("", content)
    elif role == "system":
        for switch in _THINK_SWITCHES:
            content = content.replace(f"{switch}\n", "").replace(switch, "")
        if not content.strip():
            return None
    return content


def strip_think(messages: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The messages without worked rationales in any family's tags (and without a system turn's
    think switch, e.g. Gemma 4's `<|think|>`); a system turn left empty goes."""
    return tuple((role, c) for role, content in messages if (c := _unthought(role, content)) is not None)


def strip_think_chat(chat: tuple[ChatMessage, ...]) -> tuple[ChatMessage, ...]:
    """`strip_think` over full messages: tool calls and tool_call_ids stay as they were."""
    out = []
    for m in chat:
        content = _unthought(m.role, m.content)
        if content is not None:
            out.append(m if content == m.content else m.model_copy(update={"content": content}))
    return tuple(out)


def export_rows(corpus: Corpus, options: ExportOptions) -> Selection:
    """The live examples of `corpus` after the options, sorted by (split, category, id)."""
    options.check()
    sel = Selection(rows=[])  # retired entries are not "left out": the card counts them by reason
    seen: dict[str, str] = {}  # content hash of the messages -> id of the example that has them
    # chat examples first, so a think example that strips down to an existing chat one is the copy
    live = sorted(corpus.live(), key=lambda e: (e.example.format != "chat", e.example.id))
    for entry in live:
        ex = entry.example
        if ex.format == "fim" and options.fim == "drop":
            sel.left_out["fim_dropped"] += 1
            continue
        chat = ex.messages
        fmt = ex.format
        if options.think == "strip":
            stripped = strip_think_chat(chat)
            if stripped != chat and fmt == "think":
                fmt = "chat"
            chat = stripped
        # alpaca has no place for a tool call: an example that makes one is not single-turn text
        if options.format == "alpaca" and ([m.role for m in chat] not in SINGLE_TURN
                                           or any(m.tool_calls for m in chat)):
            sel.left_out["alpaca_not_single_turn"] += 1
            continue
        key = hashlib.sha256(json.dumps([m.model_dump() for m in chat]).encode()).hexdigest()
        if key in seen:
            sel.left_out["think_stripped_duplicate"] += 1
            continue
        seen[key] = ex.id
        group = group_key(ex)
        sel.rows.append(Row(entry=entry, chat=chat, format=fmt, group=group,
                            split=side(group, options.validation_share, options.split_salt)))
    sel.rows.sort(key=lambda r: (r.split != "train", r.example.category, r.example.id))
    return sel


# ---------------------------------------------------------------------- shapes per format


# The instruction every tool prompt of the harvester starts with: the old one-line form (`Tools:
# a, b.`) and the schema form (the instruction, then TOOLS_INTRO and one JSON function a line).
_TOOL_INSTRUCTION = TOOL_SYSTEM.removesuffix("Tools: ").rstrip()


def tool_call_of(messages: tuple[tuple[str, str], ...], index: int) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) when message `index` is the assistant's tool call of a single-call tool-use
    example: the system turn is the harvester's tool prompt and the answer `{"name", "arguments"}`."""
    if not messages or messages[0][0] != "system" or not messages[0][1].startswith(_TOOL_INSTRUCTION):
        return None
    role, content = messages[index]
    if role != "assistant":
        return None
    try:
        obj = json.loads(content)
    except json.JSONDecodeError:
        return None
    if (not isinstance(obj, dict) or set(obj) != {"name", "arguments"} or not isinstance(obj["name"], str)
            or not isinstance(obj["arguments"], dict)):
        return None
    return obj["name"], obj["arguments"]


def offered_tools(system: str) -> list[dict[str, Any]]:
    """The OpenAI function entries a system turn offers: the JSON schemas listed after TOOLS_INTRO
    (session and tool-spec prompts), else the names of an old `Tools: a, b.` / `a(x: str); b().` line
    (their schema unknown: `{"type": "object"}`)."""
    if TOOLS_INTRO in system:
        out = []
        for line in system.split(TOOLS_INTRO, 1)[1].splitlines():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            fn = obj.get("function") if isinstance(obj, dict) else None
            if isinstance(fn, dict) and isinstance(fn.get("name"), str) and fn["name"]:
                out.append({k: fn[k] for k in ("name", "description", "parameters") if fn.get(k) is not None})
        return out
    if not system.startswith(TOOL_SYSTEM):
        return []
    return [{"name": n, "parameters": {"type": "object"}} for n in tool_names(system)]


def tool_names(system: str) -> list[str]:
    """The tools an old one-line tool prompt offers: `Tools: a, b.` or `Tools: a(x: str); b().`"""
    tail = system[len(TOOL_SYSTEM):].strip()
    tail = tail[:-1] if tail.endswith(".") else tail
    parts = tail.split("; ") if ("(" in tail or ";" in tail) else tail.split(", ")
    return [p.split("(", 1)[0].strip() for p in parts if p.split("(", 1)[0].strip()]


def _call_id(row: Row, index: int) -> str:
    return "call_" + hashlib.sha256(f"{row.example.id}:{index}".encode()).hexdigest()[:24]


def _calls(row: Row, index: int) -> list[dict[str, Any]]:
    """The OpenAI tool calls of message `index`: its own `tool_calls`, or the one its JSON answer is."""
    m = row.chat[index]
    if m.tool_calls:
        return [c.model_dump() for c in m.tool_calls]
    if (call := tool_call_of(row.messages, index)) is not None:
        return [{"id": _call_id(row, index), "type": "function",
                 "function": {"name": call[0], "arguments": json.dumps(call[1], ensure_ascii=False)}}]
    return []


def _tools(row: Row, called: list[str]) -> list[dict[str, Any]]:
    """The `tools` of a row that calls some: what its system turn offers, plus any tool it called
    that the prompt did not list (schema unknown: any object of arguments)."""
    system = row.chat[0].content if row.chat and row.chat[0].role == "system" else ""
    fns = {f["name"]: f for f in offered_tools(system)}
    for name in called:
        fns.setdefault(name, {"name": name, "parameters": {"type": "object"}})
    return [{"type": "function", "function": f} for f in fns.values()]


def openai_row(row: Row) -> dict[str, Any]:
    """`{"messages": [...]}` for OpenAI chat fine-tuning: assistant tool calls as `tool_calls`, tool
    results with their `tool_call_id`, and `tools` (with schemas) when the row calls any."""
    msgs: list[dict[str, Any]] = []
    called: list[str] = []
    last_call: str | None = None  # an old single-call example's result answers the call before it
    for i, m in enumerate(row.chat):
        if calls := _calls(row, i):
            last_call = calls[-1]["id"]
            called += [c["function"]["name"] for c in calls]
            out = {"role": "assistant", "tool_calls": calls}
            if m.tool_calls and m.content.strip():  # what the assistant said alongside its calls
                out = {"role": "assistant", "content": m.content, "tool_calls": calls}
            msgs.append(out)
        elif m.role == "tool":
            call_id = m.tool_call_id or last_call
            if call_id is None:
                raise ExportError(f"example {row.example.id}: a tool message with no tool call before it")
            msgs.append({"role": "tool", "tool_call_id": call_id, "content": m.content})
        else:
            msgs.append({"role": m.role, "content": m.content})
    line: dict[str, Any] = {"messages": msgs}
    if called:
        line["tools"] = _tools(row, called)
    return line


SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


def _call_value(calls: list[dict[str, Any]]) -> str:
    """A `function_call` turn's value (LLaMA-Factory): `{"name", "arguments"}`, a list for parallel calls."""
    objs = []
    for c in calls:
        try:
            args = json.loads(c["function"]["arguments"])
        except json.JSONDecodeError:
            args = c["function"]["arguments"]  # kept as logged rather than dropped
        objs.append({"name": c["function"]["name"], "arguments": args})
    return json.dumps(objs[0] if len(objs) == 1 else objs, ensure_ascii=False)


def sharegpt_row(row: Row) -> dict[str, Any]:
    """`{"id", "conversations": [{"from", "value"}]}` (plus `tools`, a JSON string, when it calls any):
    a tool call is a `function_call` turn, preceded by a `gpt` turn for any text said with it, and
    each tool result an `observation` turn (LLaMA-Factory's names)."""
    conv: list[dict[str, str]] = []
    called: list[str] = []
    for i, m in enumerate(row.chat):
        if calls := _calls(row, i):
            if m.tool_calls and m.content.strip():
                conv.append({"from": "gpt", "value": m.content})
            called += [c["function"]["name"] for c in calls]
            conv.append({"from": "function_call", "value": _call_value(calls) if m.tool_calls else m.content})
        else:
            conv.append({"from": SHAREGPT_FROM[m.role], "value": m.content})
    out: dict[str, Any] = {"id": row.example.id, "conversations": conv}
    if called:
        out["tools"] = json.dumps([t["function"] for t in _tools(row, called)], ensure_ascii=False)
    return out


def alpaca_row(row: Row) -> dict[str, Any]:
    """`{"instruction", "input", "output", "system"}` for a single-turn example (an optional system
    turn, one user turn, one answer); `export_rows` leaves every other example out for alpaca."""
    roles = [r for r, _ in row.messages]
    if roles not in SINGLE_TURN:
        raise ExportError(f"example {row.example.id} is not single-turn ({' → '.join(roles)}): alpaca cannot hold it")
    system = row.messages[0][1] if roles[0] == "system" else ""
    return {"id": row.example.id, "instruction": row.messages[-2][1], "input": "", "output": row.messages[-1][1],
            "system": system}


def table_row(row: Row) -> dict[str, Any]:
    """The `datasets`/Parquet columns: the judge's dataset columns plus provenance and corpus facts.

    Each message keeps its text as `content` and, in OpenAI's shape, the calls an assistant message
    made (`tool_calls`, arguments as a JSON string) and the call a tool result answers
    (`tool_call_id`); `tools` is the JSON list of the tools offered, with their schemas, when the row
    calls any. A table has one schema for every row: a message without calls has an empty list."""
    ex, p = row.example, row.example.provenance
    line = openai_row(row)
    messages = [{"role": r, "content": c, "tool_calls": [
        {"id": t["id"], "type": t["type"], "function": {"name": t["function"]["name"],
                                                        "arguments": t["function"]["arguments"]}}
        for t in o.get("tool_calls", [])], "tool_call_id": o.get("tool_call_id")}
        for (r, c), o in zip(row.messages, line["messages"], strict=True)]
    return {
        "id": ex.id, "specialist": str(ex.specialist), "category": ex.category, "generator": ex.generator,
        "format": row.format, "messages": messages,
        "tools": json.dumps(line["tools"], ensure_ascii=False) if "tools" in line else None,
        "source": p.source, "commit": p.commit, "path": p.path, "session_id": p.session_id,
        "group": row.group, "added_at": row.entry.added_at.isoformat(), "corpus_version_added": row.entry.version,
    }
