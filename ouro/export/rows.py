"""Corpus entries → export rows: which examples leave, on which side of the split, in which shape.

Pure functions over a `Corpus` (no bus, no files): `export_rows(corpus, options)` picks the live
examples, applies the think/FIM options, assigns each to train or validation by a stable hash of
its group, and `to_format(row, fmt)` shapes one row for `hf`/`parquet`, `openai`, `sharegpt` or
`alpaca`. What was left out, and why, is counted in `Selection.left_out` for the card.

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
from services.harvester.generators.sessions import TOOL_SYSTEM
from services.judge.corpus import Corpus, CorpusEntry
from shared.events import Example
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
    messages: tuple[tuple[str, str], ...]
    format: str  # chat | fim | think (a think example whose tags were stripped is chat)
    split: Literal["train", "validation"]
    group: str

    @property
    def example(self) -> Example:
        return self.entry.example


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


def strip_think(messages: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The messages without worked rationales in any family's tags (and without a system turn's
    think switch, e.g. Gemma 4's `<|think|>`); a system turn left empty goes."""
    out: list[tuple[str, str]] = []
    for role, content in messages:
        if role == "assistant":
            for span in _THINK_SPANS:
                content = span.sub("", content)
        elif role == "system":
            for switch in _THINK_SWITCHES:
                content = content.replace(f"{switch}\n", "").replace(switch, "")
            if not content.strip():
                continue
        out.append((role, content))
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
        messages = tuple((m.role, m.content) for m in ex.messages)
        fmt = ex.format
        if options.think == "strip":
            stripped = strip_think(messages)
            if stripped != messages and fmt == "think":
                fmt = "chat"
            messages = stripped
        if options.format == "alpaca" and [r for r, _ in messages] not in SINGLE_TURN:
            sel.left_out["alpaca_not_single_turn"] += 1
            continue
        key = hashlib.sha256(json.dumps(messages).encode()).hexdigest()
        if key in seen:
            sel.left_out["think_stripped_duplicate"] += 1
            continue
        seen[key] = ex.id
        group = group_key(ex)
        sel.rows.append(Row(entry=entry, messages=messages, format=fmt, group=group,
                            split=side(group, options.validation_share, options.split_salt)))
    sel.rows.sort(key=lambda r: (r.split != "train", r.example.category, r.example.id))
    return sel


# ---------------------------------------------------------------------- shapes per format


def tool_call_of(messages: tuple[tuple[str, str], ...], index: int) -> tuple[str, dict[str, Any]] | None:
    """(name, arguments) when message `index` is the assistant's tool call of a tool-use example: the
    system turn is the harvester's tool prompt and the answer is `{"name": ..., "arguments": {...}}`."""
    if not messages or messages[0][0] != "system" or not messages[0][1].startswith(TOOL_SYSTEM):
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


def tool_names(system: str) -> list[str]:
    """The tools the harvester's tool prompt offers: `Tools: a, b.` or `Tools: a(x: str); b().`"""
    tail = system[len(TOOL_SYSTEM):].strip()
    tail = tail[:-1] if tail.endswith(".") else tail
    parts = tail.split("; ") if ("(" in tail or ";" in tail) else tail.split(", ")
    return [p.split("(", 1)[0].strip() for p in parts if p.split("(", 1)[0].strip()]


def _call_id(row: Row, index: int) -> str:
    return "call_" + hashlib.sha256(f"{row.example.id}:{index}".encode()).hexdigest()[:24]


def openai_row(row: Row) -> dict[str, Any]:
    """`{"messages": [...]}` for OpenAI chat fine-tuning; a tool call as `tool_calls`, with `tools`."""
    msgs: list[dict[str, Any]] = []
    called: list[str] = []
    last_call: str | None = None
    for i, (role, content) in enumerate(row.messages):
        call = tool_call_of(row.messages, i)
        if call is not None:
            last_call = _call_id(row, i)
            called.append(call[0])
            msgs.append({"role": "assistant", "tool_calls": [{
                "id": last_call, "type": "function",
                "function": {"name": call[0], "arguments": json.dumps(call[1], ensure_ascii=False)},
            }]})
        elif role == "tool":
            if last_call is None:
                raise ExportError(f"example {row.example.id}: a tool message with no tool call before it")
            msgs.append({"role": "tool", "tool_call_id": last_call, "content": content})
        else:
            msgs.append({"role": role, "content": content})
    out: dict[str, Any] = {"messages": msgs}
    if called:
        names = list(dict.fromkeys([*tool_names(row.messages[0][1]), *called]))
        # the prompt names the tools but the corpus keeps no schema: any object of arguments
        out["tools"] = [{"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
                        for n in names]
    return out


SHAREGPT_FROM = {"system": "system", "user": "human", "assistant": "gpt", "tool": "observation"}


def sharegpt_row(row: Row) -> dict[str, Any]:
    """`{"conversations": [{"from", "value"}]}`; a tool call is a `function_call` turn (LLaMA-Factory)."""
    conv = []
    for i, (role, content) in enumerate(row.messages):
        kind = "function_call" if tool_call_of(row.messages, i) is not None else SHAREGPT_FROM[role]
        conv.append({"from": kind, "value": content})
    return {"id": row.example.id, "conversations": conv}


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
    """The `datasets`/Parquet columns: the judge's dataset columns plus provenance and corpus facts."""
    ex, p = row.example, row.example.provenance
    return {
        "id": ex.id, "specialist": str(ex.specialist), "category": ex.category, "generator": ex.generator,
        "format": row.format, "messages": [{"role": r, "content": c} for r, c in row.messages],
        "source": p.source, "commit": p.commit, "path": p.path, "session_id": p.session_id,
        "group": row.group, "added_at": row.entry.added_at.isoformat(), "corpus_version_added": row.entry.version,
    }
