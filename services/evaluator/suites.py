"""Evaluation suites: data files, validated when loaded.

A suite is a directory of JSONL files, one per category (`suites/orchestrator/tool_use.jsonl`).
Each line is one `SuiteItem`; its scorer is a spec from `scorers.py`. `load_suite("coder")` loads
a shipped suite; a path loads any directory or single JSONL file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.evaluator.scorers import ScorerSpec

SUITES_DIR = Path(__file__).parent / "suites"


class SuiteError(ValueError):
    pass


class PromptMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    role: Literal["system", "user", "assistant"]
    content: str


class SuiteItem(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    category: str
    messages: tuple[PromptMessage, ...] = Field(min_length=1)
    scorer: ScorerSpec
    reference: str | None = None

    def chat(self) -> list[dict[str, str]]:
        return [m.model_dump() for m in self.messages]


class Suite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    items: tuple[SuiteItem, ...]

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.category for item in self.items))


def _load_file(path: Path) -> list[SuiteItem]:
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(SuiteItem.model_validate_json(line))
        except ValidationError as exc:
            raise SuiteError(f"{path}:{lineno}: invalid suite item: {exc}") from None
    return items


def load_suite(name_or_path: str | Path) -> Suite:
    """A shipped suite by name (`orchestrator`, `coder`, `reasoner`), or a directory / .jsonl file."""
    path = Path(name_or_path)
    if not path.exists():
        path = SUITES_DIR / str(name_or_path)
    if not path.exists():
        shipped = sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir())
        raise SuiteError(f"no suite {str(name_or_path)!r}: not a path, and not one of the shipped {shipped}")
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path]
    items = [item for f in files for item in _load_file(f)]
    if not items:
        raise SuiteError(f"suite {path} has no items")
    ids = [item.id for item in items]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SuiteError(f"suite {path} repeats item ids {duplicates}")
    name = path.name if path.is_dir() else path.stem
    return Suite(name=name, items=tuple(items))
