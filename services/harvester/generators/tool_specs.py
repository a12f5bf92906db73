"""Tool specs (MCP `tools/list`, OpenAI function schemas) → tool-use examples.

For each tool: a user request phrased from its description and naming the argument values, and
the call `{"name": ..., "arguments": {...}}` as the answer. Up to three variants per tool (the
required arguments only, then every argument, then other enum values); every call is checked
against the tool's own schema before it becomes a draft, so the model never learns a call its
tool would reject. Accepted files:
- MCP: `{"tools": [{"name", "description", "inputSchema"}]}` (or a JSON-RPC `{"result": {...}}`)
- OpenAI: `[{"type": "function", "function": {"name", "description", "parameters"}}]`
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.harvester.base import Context, Draft
from services.harvester.generators.sessions import TOOL_SYSTEM
from services.harvester.schema_validate import errors, supported

NAME = "tool_specs"
MAX_VARIANTS = 3
_EXAMPLE = re.compile(r"""e\.g\.,?\s*[`"']?([\w./:@-]+)""")
# Plausible values for common parameter names; anything else gets a neutral word.
_STRINGS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = (
    (re.compile(r"path|file"), ("services/judge/core.py", "shared/bus.py", "README.md")),
    (re.compile(r"query|pattern|regex|search|text"), ("retry backoff", "def harvest", "Nats-Msg-Id")),
    (re.compile(r"url|uri|endpoint"), ("http://127.0.0.1:8000/v1", "https://example.org/api")),
    (re.compile(r"branch|ref"), ("main", "feature/spool")),
    (re.compile(r"checkpoint"), ("ckpt-0107", "ckpt-0311")),
    (re.compile(r"(?:^|_)id$|_id"), ("b81d2e", "5c0f9a", "e7a113")),
    (re.compile(r"message|reason|note|comment"), ("nightly refresh", "after the dedup fix")),
)
_WORDS = ("alpha", "bravo", "charlie")


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    schema: dict[str, Any]


def parse_spec(obj: Any) -> list[dict[str, Any]] | None:
    """The tool entries of an MCP or OpenAI spec, or None when the shape is neither."""
    if isinstance(obj, dict) and isinstance(obj.get("result"), dict):
        obj = obj["result"]
    if isinstance(obj, dict) and isinstance(obj.get("tools"), list):
        obj = obj["tools"]
    if not isinstance(obj, list):
        return None
    return [t.get("function", t) if isinstance(t, dict) and t.get("type") == "function" else t for t in obj]


def to_tool(entry: Any) -> Tool | str:
    """A Tool, or the skip reason."""
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
        return "no_name"
    desc = entry.get("description")
    if not isinstance(desc, str) or not desc.strip():
        return "no_description"
    schema = entry.get("inputSchema", entry.get("parameters")) or {"type": "object", "properties": {}}
    if not isinstance(schema, dict) or schema.get("type", "object") != "object" or not supported(schema):
        return "unsupported_schema"
    return Tool(entry["name"], " ".join(desc.split()), schema)


def sample(name: str, schema: dict[str, Any], variant: int) -> Any:
    """A value for parameter `name` that its schema accepts; `variant` walks through the choices."""
    if schema.get("enum"):
        return schema["enum"][variant % len(schema["enum"])]
    if isinstance(schema.get("examples"), list) and schema["examples"]:
        return schema["examples"][variant % len(schema["examples"])]
    if "default" in schema and variant == 0:
        return schema["default"]
    kind = schema.get("type", "string")
    kind = kind[0] if isinstance(kind, list) and kind else kind
    if kind == "integer":
        value = max((3, 10, 1)[variant % 3], schema.get("minimum", 0))
        return int(min(value, schema.get("maximum", value)))
    if kind == "number":
        value = max((0.5, 2.0, 0.1)[variant % 3], schema.get("minimum", 0.0))
        return float(min(value, schema.get("maximum", value)))
    if kind == "boolean":
        return variant % 2 == 0
    if kind == "array":
        return [sample(name.rstrip("s"), schema.get("items", {"type": "string"}), variant)]
    if kind == "object":
        return arguments(schema, variant, every=True)
    if m := _EXAMPLE.search(str(schema.get("description", ""))):
        return m.group(1).rstrip(".,")
    key = name.lower()
    for pattern, values in _STRINGS:
        if pattern.search(key):
            return values[variant % len(values)]
    return _WORDS[variant % len(_WORDS)]


def arguments(schema: dict[str, Any], variant: int, *, every: bool) -> dict[str, Any]:
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    return {k: sample(k, s, variant) for k, s in sorted(props.items()) if every or k in required}


def imperative(description: str) -> str:
    """The description's first sentence as an instruction: "Returns the status." → "return the status"."""
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0].rstrip(".!? ")
    word, _, rest = first.partition(" ")
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and word[:1].isupper():
        word = word[:-2] if word.endswith(("ches", "shes", "xes", "sses")) else word[:-1]
    if not word.isupper():
        word = word[:1].lower() + word[1:]
    return f"{word} {rest}".strip()


def request(tool: Tool, args: dict[str, Any], variant: int) -> str:
    what = imperative(tool.description)
    given = ", ".join(f"{k.replace('_', ' ')}: {v if isinstance(v, str) else json.dumps(v)}" for k, v in args.items())
    if variant % 3 == 0:
        return f"{what[:1].upper()}{what[1:]}" + (f", with {given}." if given else ".")
    if variant % 3 == 1:
        return f"Please {what}" + (f"; use {given}." if given else ".")
    return f"Can you {what}?" + (f" {given[:1].upper()}{given[1:]}." if given else "")


def signature(tool: Tool) -> str:
    """`name(param: type, optional?: a|b)`: a compact line for the system prompt."""
    required = set(tool.schema.get("required", []))
    parts = []
    for k, s in sorted(tool.schema.get("properties", {}).items()):
        kind = "|".join(map(str, s["enum"])) if s.get("enum") else str(s.get("type", "any"))
        parts.append(f"{k}{'' if k in required else '?'}: {kind}")
    return f"{tool.name}({', '.join(parts)})"


def spec_files(paths: tuple[Path, ...]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        out.extend(sorted(p.rglob("*.json")) if p.is_dir() else [p])
    return out


def tool_drafts(tool: Tool, system: str, path: Path, ctx: Context) -> Iterator[Draft]:
    seen: list[dict[str, Any]] = []
    for variant in range(MAX_VARIANTS):
        try:
            args = arguments(tool.schema, variant, every=variant > 0)
            problems = errors(args, tool.schema)
        except (ValueError, TypeError, AttributeError):
            ctx.skips.add(NAME, "unsupported_schema")
            return
        if problems:
            ctx.skips.add(NAME, "invalid_arguments")
            continue
        if args in seen:
            continue
        seen.append(args)
        call = json.dumps({"name": tool.name, "arguments": args}, ensure_ascii=False)
        yield Draft(generator=NAME, task="tool_spec_call", source=path.name, path=str(path),
                    messages=(("system", system), ("user", request(tool, args, variant)), ("assistant", call)))


class ToolSpecs:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        for path in spec_files(ctx.plan.tool_specs):
            try:
                entries = parse_spec(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                entries = None
            if entries is None:
                ctx.skips.add(NAME, "malformed_spec")
                continue
            tools: list[Tool] = []
            for entry in entries:
                tool = to_tool(entry)
                if isinstance(tool, str):
                    ctx.skips.add(NAME, tool)
                else:
                    tools.append(tool)
            system = TOOL_SYSTEM + "; ".join(signature(t) for t in tools) + "."
            for tool in tools:
                yield from tool_drafts(tool, system, path, ctx)
