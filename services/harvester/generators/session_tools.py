"""The tools a session could call, with their argument schemas, for tool-use prompts.

A prompt that shows one tool name and no arguments teaches guessing. The schemas come, in order
of authority, from the plan's tool spec files (MCP `tools/list` / OpenAI functions), from the
`tools` a session log carries, and last from the calls the sessions made (each argument's JSON
type; required = present in every call), so every tool that was called has a schema.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.harvester.session_formats import Conversation

_JSON_TYPES = ((bool, "boolean"), (int, "integer"), (float, "number"), (str, "string"), (list, "array"),
               (dict, "object"))


def _type_of(value: Any) -> str:
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "string")


def from_spec_files(paths: Iterable[Path]) -> dict[str, dict[str, Any]]:
    """name -> OpenAI function entry, from MCP / OpenAI spec files (unreadable ones ignored here;
    the tool_specs generator counts them)."""
    from services.harvester.generators.tool_specs import Tool, parse_spec, spec_files, to_tool

    out: dict[str, dict[str, Any]] = {}
    for path in spec_files(tuple(paths)):
        try:
            entries = parse_spec(json.loads(path.read_text(encoding="utf-8"))) or []
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        for entry in entries:
            tool = to_tool(entry)
            if isinstance(tool, Tool):
                out.setdefault(tool.name, {"name": tool.name, "description": tool.description,
                                           "parameters": tool.schema})
    return out


def from_logs(convs: Iterable[Conversation]) -> dict[str, dict[str, Any]]:
    """name -> function entry from the `tools` logged with sessions (OpenAI or bare functions)."""
    out: dict[str, dict[str, Any]] = {}
    for conv in convs:
        for t in conv.tools:
            fn = t.get("function", t) if isinstance(t.get("function", t), dict) else {}
            if isinstance(fn.get("name"), str) and fn["name"]:
                out.setdefault(fn["name"], {"name": fn["name"], "description": str(fn.get("description", "")),
                                            "parameters": fn.get("parameters") or {"type": "object",
                                                                                   "properties": {}}})
    return out


def inferred(convs: Iterable[Conversation]) -> dict[str, dict[str, Any]]:
    """name -> function entry whose schema is read off the calls made."""
    calls: dict[str, list[dict[str, Any]]] = {}
    for conv in convs:
        for turn in conv.turns:
            for c in turn.tool_calls:
                calls.setdefault(c.name, []).append(c.arguments)
    out: dict[str, dict[str, Any]] = {}
    for name, seen in calls.items():
        props: dict[str, dict[str, str]] = {}
        for args in seen:
            for k, v in args.items():
                props.setdefault(k, {"type": _type_of(v)})
        required = sorted(k for k in props if all(k in a for a in seen))
        out[name] = {"name": name, "description": "",
                     "parameters": {"type": "object", "properties": dict(sorted(props.items())), "required": required}}
    return out


def registry(spec_paths: Iterable[Path], convs: list[Conversation]) -> dict[str, dict[str, Any]]:
    """Every known tool, the most authoritative schema for each."""
    out = inferred(convs)
    out.update(from_logs(convs))
    out.update(from_spec_files(spec_paths))
    return dict(sorted(out.items()))


def render(tools: Iterable[dict[str, Any]]) -> str:
    """The tools as OpenAI function schemas, one JSON object a line (what a chat API would send)."""
    return "\n".join(json.dumps({"type": "function", "function": t}, sort_keys=True, ensure_ascii=False)
                     for t in tools)
