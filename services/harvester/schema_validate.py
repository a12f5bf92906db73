"""Validate a value against the JSON-schema subset tool specs use; no dependency, no surprises.

Supported: `type` (object, string, integer, number, boolean, array, null, or a list of them),
`properties`, `required`, `enum`, `items`, `additionalProperties: false`. Anything else in a
schema is ignored. `errors(value, schema)` returns one readable line per violation ([] = valid).
"""

from __future__ import annotations

from typing import Any

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,), "string": (str,), "integer": (int,), "number": (int, float),
    "boolean": (bool,), "array": (list, tuple), "null": (type(None),),
}
SUPPORTED_TYPES = frozenset(_TYPES)


def _is(value: Any, kind: str) -> bool:
    if kind not in _TYPES:
        raise ValueError(f"unsupported JSON-schema type {kind!r}: use one of {sorted(_TYPES)}")
    if isinstance(value, bool) and kind in ("integer", "number"):
        return False  # JSON keeps true and 1 apart; Python's bool is an int
    if kind == "integer" and isinstance(value, float):
        return value.is_integer()
    return isinstance(value, _TYPES[kind])


def errors(value: Any, schema: dict[str, Any], path: str = "$") -> list[str]:
    """Every way `value` violates `schema`, as `<path>: <what>` lines."""
    out: list[str] = []
    kinds = schema.get("type")
    if kinds is not None:
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if not any(_is(value, k) for k in kinds):
            return [f"{path}: expected {' or '.join(kinds)}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{path}: {value!r} is not one of {schema['enum']}")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                out.append(f"{path}: missing required {name!r}")
        for name, item in value.items():
            if name in props:
                out.extend(errors(item, props[name], f"{path}.{name}"))
            elif schema.get("additionalProperties") is False:
                out.append(f"{path}: unexpected property {name!r}")
    if isinstance(value, list | tuple) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out.extend(errors(item, schema["items"], f"{path}[{i}]"))
    return out


def supported(schema: dict[str, Any]) -> bool:
    """Whether every `type` in `schema` (nested properties and items included) is one this module knows."""
    kinds = schema.get("type", [])
    if any(k not in _TYPES for k in ([kinds] if isinstance(kinds, str) else kinds)):
        return False
    nested = list(schema.get("properties", {}).values())
    if isinstance(schema.get("items"), dict):
        nested.append(schema["items"])
    return all(isinstance(s, dict) and supported(s) for s in nested)
