"""Stage one: run the filters over one batch. Stateless, so filter workers scale as a queue group.

Malformed input (bad JSON, missing fields, non-text content, huge payloads) is rejected with a
reason, never raised and never silently lost: every input ends up in `kept` or `rejected`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.judge.verdict import BatchFilter, Filter
from shared.events import Example

PREVIEW_CHARS = 2_000

# pydantic error type -> our reason; the first error decides
_INVALID = {
    "missing": "invalid:missing_field",
    "extra_forbidden": "invalid:extra_field",
    "string_type": "invalid:non_text",
    "literal_error": "invalid:bad_value",
    "enum": "invalid:bad_value",
}


class Rejected(BaseModel):
    """One rejected input, kept for audit (`excluded.jsonl`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reason: str
    detail: str | None = None  # e.g. the benchmark item a contaminated example matched
    id: str | None = None
    generator: str | None = None
    category: str | None = None
    example: Example | None = None
    raw: str | None = None  # a preview of input that did not parse as an Example


class BatchVerdicts(BaseModel):
    """What a filter worker hands to the assembler; JSON-serialisable for the object store."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kept: list[Example] = Field(default_factory=list)
    rejected: list[Rejected] = Field(default_factory=list)
    seconds: dict[str, float] = Field(default_factory=dict)  # per filter, for the benchmark


def reject(reason: str, example: Example, detail: str | None = None) -> Rejected:
    # The audit trail ships inside the dataset artifact: an example rejected *because* it holds
    # a secret is recorded by id, generator and category only, never with its text.
    keep_text = not reason.startswith("secret")
    return Rejected(
        reason=reason, detail=detail, id=example.id, generator=example.generator,
        category=example.category, example=example if keep_text else None,
    )


def _preview(data: Any) -> str:
    if isinstance(data, bytes):
        return data[:PREVIEW_CHARS].decode("utf-8", errors="replace")
    try:
        return json.dumps(data, ensure_ascii=False, default=str)[:PREVIEW_CHARS]
    except (TypeError, ValueError):
        return repr(data)[:PREVIEW_CHARS]


def _size(data: Example | dict | bytes) -> int:
    if isinstance(data, bytes):
        return len(data)
    if isinstance(data, Example):
        return sum(len(m.content.encode("utf-8", errors="replace")) for m in data.messages)
    try:
        return len(json.dumps(data, default=str).encode("utf-8", errors="replace"))
    except (TypeError, ValueError):
        return 0


def parse(data: Example | dict | bytes, *, max_bytes: int) -> Example | Rejected:
    """Turn one raw input into an Example, or a Rejected that says what was wrong with it."""
    if _size(data) > max_bytes:
        return Rejected(reason="too_large", raw=_preview(data), **_ident(data))
    if isinstance(data, Example):
        example = data
    else:
        if isinstance(data, bytes | bytearray):
            try:
                data = json.loads(data)
            except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
                return Rejected(reason="invalid:json", raw=_preview(bytes(data)))
        if not isinstance(data, dict):
            return Rejected(reason="invalid:not_object", raw=_preview(data))
        try:
            example = Example.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            reason = _INVALID.get(first["type"], "invalid:schema")
            where = ".".join(str(x) for x in first["loc"])
            return Rejected(reason=reason, detail=where, raw=_preview(data), **_ident(data))
    if not any(m.role == "assistant" and m.content.strip() for m in example.messages):
        return reject("invalid:no_response", example)
    return example


def _ident(data: Any) -> dict[str, str | None]:
    if isinstance(data, Example):
        return {"id": data.id, "generator": data.generator, "category": data.category}
    if isinstance(data, dict):
        return {k: v if isinstance(v, str) else None for k in ("id", "generator", "category") for v in [data.get(k)]}
    return {}


def filter_batch(
    examples: Sequence[Example | dict | bytes], filters: Sequence[Filter], *, max_bytes: int = 262_144
) -> BatchVerdicts:
    """Parse and filter one batch; filters run column-wise so batched ones see every survivor at once."""
    rejected: list[Rejected] = []
    alive: list[Example] = []
    for item in examples:
        parsed = parse(item, max_bytes=max_bytes)
        (rejected if isinstance(parsed, Rejected) else alive).append(parsed)
    seconds: dict[str, float] = {}
    for f in filters:
        start = time.perf_counter()
        if isinstance(f, BatchFilter):
            try:
                f.prepare(alive)
            except Exception as err:  # noqa: BLE001 - a broken model must not lose the batch
                rejected.extend(reject(f"error:{f.name}", e, detail=repr(err)[:200]) for e in alive)
                alive = []
        survivors: list[Example] = []
        for example in alive:
            try:
                verdict = f.filter(example)
            except Exception as err:  # noqa: BLE001 - filters should not raise; if one does, say so
                rejected.append(reject(f"error:{f.name}", example, detail=repr(err)[:200]))
                continue
            if verdict.keep:
                survivors.append(verdict.example or example)
            else:
                rejected.append(reject(verdict.reason or f.name, example))
        alive = survivors
        seconds[f.name] = round(seconds.get(f.name, 0.0) + time.perf_counter() - start, 4)
    return BatchVerdicts(kept=alive, rejected=rejected, seconds=seconds)
