"""Evaluation suites: the shared contract between the evaluator (which scores them) and the judge
(which must never let a training example overlap them).

A suite is a directory of JSONL files, one per category (`suites/orchestrator/tool_use.jsonl`).
Each line is one `SuiteItem` whose scorer is a typed spec (`{"type": "numeric", "expected": 42}`),
validated when the suite is loaded, so a typo fails at load time with the file and line, not
halfway through an evaluation. A suite's `version` is the hash of its content and travels with
every score, so two scores are comparable only when their versions match.

Shipped suites live beside this module (`shared/suites/<name>/`); a specialist's entry in the
specialist file names its suite by a path relative to that file (or a shipped name).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from shared.hashing import content_hash

SUITES_DIR = Path(__file__).parent / "suites"


class SuiteError(ValueError):
    pass


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def texts(self) -> Iterator[str]:
        """Expected answers and payloads a model could be trained to parrot (decontamination)."""
        return iter(())


class ExactSpec(_Spec):
    type: Literal["exact"]
    expected: str

    def texts(self) -> Iterator[str]:
        yield self.expected


class ContainsSpec(_Spec):
    type: Literal["contains"]
    strings: tuple[str, ...] = Field(min_length=1)
    # any: 1 if one string appears; all: the fraction of the strings that appear
    mode: Literal["any", "all"] = "any"

    def texts(self) -> Iterator[str]:
        yield " ".join(self.strings)


class RegexSpec(_Spec):
    type: Literal["regex"]
    pattern: str
    ignore_case: bool = True


class JsonToolCallSpec(_Spec):
    type: Literal["json_tool_call"]
    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)

    def texts(self) -> Iterator[str]:
        import json

        yield json.dumps({"name": self.name, "arguments": self.arguments}, sort_keys=True)


class NumericSpec(_Spec):
    type: Literal["numeric"]
    expected: float
    tolerance: float = 1e-6


class TokenBudgetSpec(_Spec):
    type: Literal["token_budget"]
    max_words: int = Field(gt=0)
    keywords: tuple[str, ...] = ()

    def texts(self) -> Iterator[str]:
        if self.keywords:
            yield " ".join(self.keywords)


class CodeExecSpec(_Spec):
    """Run the model's code against unit tests in the sandbox (shared/sandbox.py): 1 when every
    test passes (pass@1), else 0. The answer's first ```python block (or the whole answer) is
    written to solution.py; `tests` is a Python module that imports from it and asserts."""

    type: Literal["code_exec"]
    entry_point: str  # the function (or class) the prompt asks for; checked to exist before the tests run
    tests: str
    timeout_s: float = Field(4.0, gt=0, le=60)

    def texts(self) -> Iterator[str]:
        yield self.tests


class LlmJudgeSpec(_Spec):
    """Ask a judge model to grade an open answer against a rubric (and a reference, if any) on 1–5,
    scored (grade − 1) / 4. An unparseable verdict is counted, not scored."""

    type: Literal["llm_judge"]
    rubric: str
    reference: str | None = None

    def texts(self) -> Iterator[str]:
        if self.reference:
            yield self.reference


# A new scorer is one spec model here (its `type` literal, its parameters) plus its function in
# services/evaluator/scorers.py; a test checks that every spec type has a scorer.
SCORER_SPECS: tuple[type[_Spec], ...] = (ExactSpec, ContainsSpec, RegexSpec, JsonToolCallSpec, NumericSpec,
                                         TokenBudgetSpec, CodeExecSpec, LlmJudgeSpec)
ScorerSpec = Annotated[
    ExactSpec | ContainsSpec | RegexSpec | JsonToolCallSpec | NumericSpec | TokenBudgetSpec | CodeExecSpec
    | LlmJudgeSpec,
    Field(discriminator="type"),
]


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

    def texts(self) -> Iterator[str]:
        """Every text of the item a training example must not contain: the prompt, the reference
        answer and the scorer's expected payloads."""
        yield "\n".join(m.content for m in self.messages)
        # each turn on its own too: a long system prompt shared by many items must not dilute the
        # overlap of a copied question below the threshold
        for m in self.messages:
            if m.role != "system":
                yield m.content
        if self.reference:
            yield self.reference
        yield from self.scorer.texts()


class Suite(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    version: str = Field("", description="sha256 of the items: a score is comparable only within one version")
    items: tuple[SuiteItem, ...]

    @model_validator(mode="after")
    def _version_is_the_content_hash(self) -> Suite:
        if not self.version:  # built in code (a subset of a suite): the hash of what it holds
            object.__setattr__(self, "version", content_hash([i.model_dump(mode="json") for i in self.items]))
        return self

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(item.category for item in self.items))

    def head(self, per_category: int) -> Suite:
        """The first `per_category` items of each category (items with a deterministic scorer
        before `llm_judge` ones, file order otherwise): a smaller suite for a CPU budget, with its
        own version, so its scores are never compared with the whole suite's. 0: the whole suite."""
        if per_category <= 0:
            return self
        kept: dict[str, list[SuiteItem]] = {}
        for item in sorted(self.items, key=lambda i: i.scorer.type == "llm_judge"):
            group = kept.setdefault(item.category, [])
            if len(group) < per_category:
                group.append(item)
        chosen = {id(i) for g in kept.values() for i in g}
        return Suite(name=f"{self.name}[:{per_category}]", items=tuple(i for i in self.items if id(i) in chosen))


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


def shipped_suites() -> list[str]:
    return sorted(p.name for p in SUITES_DIR.iterdir() if p.is_dir())


def suite_path(name_or_path: str | Path, base: Path | None = None) -> Path:
    """Where a suite lives: a path (relative to `base` when given), else a shipped suite's name."""
    candidates = [Path(name_or_path)]
    if base is not None and not Path(name_or_path).is_absolute():
        candidates.insert(0, base / name_or_path)
    candidates.append(SUITES_DIR / str(name_or_path))
    for path in candidates:
        if path.exists():
            return path
    raise SuiteError(f"no suite {str(name_or_path)!r}: not a path"
                     f"{f' under {base}' if base else ''}, and not one of the shipped {shipped_suites()}")


def load_suite(name_or_path: str | Path, base: Path | None = None) -> Suite:
    """A shipped suite by name (`orchestrator`, `coder`, `reasoner`), or a directory / .jsonl file."""
    path = suite_path(name_or_path, base)
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
