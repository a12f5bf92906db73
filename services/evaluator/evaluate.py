"""Run a suite against a backend and score it: the evaluator's pure core.

    result = evaluate(TransformersBackend(base, adapter), load_suite("orchestrator"))
    candidate, champion = compare(candidate_backend, champion_backend, load_suite("orchestrator"))

The overall score is the mean of the category means, so a category with more prompts does not
outweigh the others; the promoter's thresholds read `categories` and `overall`.
"""

from __future__ import annotations

import time
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from services.evaluator.backends import Backend
from services.evaluator.scorers import score
from services.evaluator.suites import Suite


class ItemResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    category: str
    output: str
    score: float


class SuiteResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    suite: str
    items: tuple[ItemResult, ...]
    categories: dict[str, float]
    overall: float
    duration_s: float


def evaluate(backend: Backend, suite: Suite, *, max_new_tokens: int = 96) -> SuiteResult:
    started = time.monotonic()
    outputs = backend.generate([item.chat() for item in suite.items], max_new_tokens)
    if len(outputs) != len(suite.items):
        raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(suite.items)} prompts")
    items = tuple(
        ItemResult(id=item.id, category=item.category, output=out, score=score(out, item.scorer))
        for item, out in zip(suite.items, outputs, strict=True)
    )
    categories = {c: round(fmean(r.score for r in items if r.category == c), 6) for c in suite.categories}
    return SuiteResult(
        suite=suite.name,
        items=items,
        categories=categories,
        overall=round(fmean(categories.values()), 6),
        duration_s=round(time.monotonic() - started, 3),
    )


def compare(
    candidate: Backend, champion: Backend, suite: Suite, *, max_new_tokens: int = 96
) -> tuple[SuiteResult, SuiteResult]:
    """The candidate and the champion on the very same prompts."""
    return (
        evaluate(candidate, suite, max_new_tokens=max_new_tokens),
        evaluate(champion, suite, max_new_tokens=max_new_tokens),
    )
