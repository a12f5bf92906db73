"""Tool specs (MCP `tools/list`, OpenAI function schemas) → tool-use examples.

For each tool: a user request written as a person would ask (the tool's description as the verb
phrase, each argument value named by what its schema's description says it is: "the Python
regular expression `def harvest` under `services/judge`, at most 10 results", never "query: ...,
max results: 10"), and the call `{"name": ..., "arguments": {...}}` as the answer. The system
turn lists every tool of the spec file with its full JSON schema, rendered as session prompts
render them (`sessions.tool_system`), so the model learns to pick the tool and fill its arguments
from the schema. Up to three variants per tool (the required arguments only, then every
argument, then other enum values); every call is checked against the tool's own schema before
it becomes a draft, so the model never learns a call its tool would reject. Accepted files:
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
from services.harvester.generators.sessions import tool_system
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
_END = re.compile(r"^(?:end|stop|last|to)_|_(?:end|to)$")
_START = re.compile(r"^(?:start|first|from|begin)_|_(?:start|from)$")


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
        value = (3, 10, 1)[variant % 3] + (20 if _END.search(name) else 0)  # a range's end after its start
        value = max(value, schema.get("minimum", 0))
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
    """The description's first sentence as an instruction: "Returns the status." → "return the status";
    a list after a colon or an aside in parentheses is left to the schema."""
    first = re.split(r"(?<=[.!?])\s", description, maxsplit=1)[0].rstrip(".!? ")
    first = re.split(r":\s|\s\(", first, maxsplit=1)[0].rstrip(",;: ")
    word, _, rest = first.partition(" ")
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and word[:1].isupper():
        word = word[:-2] if word.endswith(("ches", "shes", "xes", "sses")) else word[:-1]
    if not word.isupper():
        word = word[:1].lower() + word[1:]
    return f"{word} {rest}".strip()


def _words(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").strip().lower()


def _shown(value: Any) -> str:
    """A value as a person would write it in a request: code-like text in backticks."""
    if isinstance(value, str):
        return value if value.isalpha() else f"`{value}`"
    if isinstance(value, list):
        return " and ".join(_shown(v) for v in value) if value else "none"
    return json.dumps(value, ensure_ascii=False)


def noun(schema: dict[str, Any]) -> str | None:
    """What the description says the argument is, as a definite noun phrase: "a Python regular
    expression" → "the Python regular expression"; None when it is not a noun phrase."""
    desc = re.split(r",?\s+e\.g\.|;|\.\s|\.$|\(", str(schema.get("description", "")).strip(), maxsplit=1)[0]
    desc = " ".join(desc.split()).rstrip(",.:")
    m = re.match(r"(?:a|an|the|one)\s+(.+)", desc, re.IGNORECASE)
    return f"the {m.group(1)}" if m and len(desc) <= 60 else None


def phrase(name: str, schema: dict[str, Any], value: Any) -> str:
    """One argument value in words, built from its name, its schema's description and the value."""
    words = _words(name)
    kind = schema.get("type")
    if isinstance(value, bool):
        return f"with {words} {'on' if value else 'off'}"
    if isinstance(value, int | float):
        head, _, rest = words.partition(" ")
        if _START.search(name):
            return f"from {rest or head} {value}" if head in ("start", "first", "from", "begin") else f"{words} {value}"
        if _END.search(name):
            return f"to {rest or head} {value}" if head in ("end", "stop", "last", "to") else f"{words} {value}"
        rest = rest[:-1] if value == 1 and rest.endswith("s") else rest
        if head in ("max", "maximum", "limit") and rest:
            return f"at most {value} {rest}"
        if head in ("min", "minimum") and rest:
            return f"at least {value} {rest}"
        return f"{words} {value}"
    if schema.get("enum"):
        plain = kind in (None, "string") and " " not in str(value)
        return f"the {value} {words}" if plain else f"{words} {_shown(value)}"
    desc = str(schema.get("description", "")).strip().lower()
    if (the := noun(schema)) is not None:
        return f"{the} {_shown(value)}"
    if desc.startswith(("only ", "just ")):
        return f"{desc.split(';')[0].split(', e.g.')[0].rstrip('.')} {_shown(value)}"
    if re.search(r"path|file", name):
        return f"in {_shown(value)}" if "dir" in desc else _shown(value)
    return f"{words} {_shown(value)}"


def _join(parts: list[str]) -> str:
    merged: list[str] = []
    for part in parts:  # "from line 3" + "to line 23" is one range
        if merged and part.startswith("to ") and merged[-1].startswith("from "):
            merged[-1] = f"{merged[-1]} {part}"
        else:
            merged.append(part)
    if len(merged) == 1:
        return merged[0]
    last = ", " if merged[-1].startswith("from ") else " and "  # "`a.py`, from line 3 to line 23"
    return ", ".join(merged[:-1]) + last + merged[-1]


def request(tool: Tool, args: dict[str, Any], variant: int) -> str:
    """A person's request for the call: what the tool does, then each value said in words (the
    required arguments first, in the schema's order)."""
    what = imperative(tool.description)
    props: dict[str, Any] = tool.schema.get("properties", {})
    required = list(tool.schema.get("required", []))
    order = [k for k in required if k in args] + [k for k in props if k in args and k not in required]
    parts = [phrase(k, props.get(k, {}), args[k]) for k in order]
    if not parts:
        return (f"{what[:1].upper()}{what[1:]}.", f"Please {what}.", f"Can you {what}?")[variant % 3]
    given = _join(parts)
    if variant % 3 == 0:
        return f"I need to {what} — {given}."
    if variant % 3 == 1:
        return f"Please {what}: {given}."
    return f"Can you {what}? {given[:1].upper()}{given[1:]}."


def functions(tools: list[Tool]) -> dict[str, dict[str, Any]]:
    """name -> OpenAI function entry with the full argument schema, for `sessions.tool_system`."""
    return {t.name: {"name": t.name, "description": t.description, "parameters": t.schema} for t in tools}


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
            system = tool_system(functions(tools))  # every tool of the file, with its schema
            for tool in tools:
                yield from tool_drafts(tool, system, path, ctx)
