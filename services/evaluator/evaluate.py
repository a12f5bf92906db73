"""Run a suite against a backend and score it: the evaluator's pure core.

    result = evaluate(TransformersBackend(base, adapter), load_suite("orchestrator"))
    candidate, champion = compare(candidate_backend, champion_backend, load_suite("orchestrator"))

The overall score is the mean of the category means, so a category with more prompts does not
outweigh the others; the promoter's thresholds read `categories` and `overall`.
"""

from __future__ import annotations

import time
from collections import Counter
from statistics import fmean

from pydantic import BaseModel, ConfigDict

from services.evaluator.backends import Backend
from services.evaluator.scorers import Unscorable, judge_prompt, parse_grade, score
from services.evaluator.suites import Suite
from shared.suites import LlmJudgeSpec

JUDGE_TOKENS = 8  # "Grade: N"


class ItemResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    category: str
    output: str
    score: float
    scored: bool = True  # False: could not be scored here (the note says why); left out of the means
    note: str | None = None


class SuiteResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    suite: str
    items: tuple[ItemResult, ...]
    categories: dict[str, float]
    overall: float
    duration_s: float
    version: str = ""  # the suite's content hash
    unscored: dict[str, int] = {}  # reason kind -> count


def evaluate(backend: Backend, suite: Suite, *, max_new_tokens: int = 96, judge: Backend | None = None) -> SuiteResult:
    """Generate for every prompt, then score: deterministic scorers and the sandbox per item, the
    judge model (`judge`, any backend) in one batch for the `llm_judge` items."""
    started = time.monotonic()
    outputs = backend.generate([item.chat() for item in suite.items], max_new_tokens)
    if len(outputs) != len(suite.items):
        raise RuntimeError(f"backend returned {len(outputs)} outputs for {len(suite.items)} prompts")
    results: list[ItemResult | None] = []
    to_judge: list[int] = []
    for i, (item, out) in enumerate(zip(suite.items, outputs, strict=True)):
        if isinstance(item.scorer, LlmJudgeSpec):
            to_judge.append(i)
            results.append(None)
            continue
        try:
            results.append(ItemResult(id=item.id, category=item.category, output=out, score=score(out, item.scorer)))
        except Unscorable as err:
            results.append(ItemResult(id=item.id, category=item.category, output=out, score=0.0, scored=False,
                                      note=str(err)))
    verdicts: list[str] = []
    if to_judge and judge is not None:
        prompts = [judge_prompt(suite.items[i].messages[-1].content, outputs[i], suite.items[i].scorer)  # type: ignore[arg-type]
                   for i in to_judge]
        verdicts = judge.generate(prompts, JUDGE_TOKENS)
    for k, i in enumerate(to_judge):
        item = suite.items[i]
        try:
            if judge is None:
                raise Unscorable("no judge model for llm_judge items (OURO_EVALUATOR_JUDGE_URL, or the base model)")
            grade = parse_grade(verdicts[k])
            results[i] = ItemResult(id=item.id, category=item.category, output=outputs[i], score=grade)
        except Unscorable as err:
            results[i] = ItemResult(id=item.id, category=item.category, output=outputs[i], score=0.0, scored=False,
                                    note=str(err))
    items = tuple(r for r in results if r is not None)
    categories = {}
    for c in suite.categories:
        scored = [r.score for r in items if r.category == c and r.scored]
        categories[c] = round(fmean(scored), 6) if scored else 0.0
    unscored = Counter((r.note or "").split(":", 1)[0] for r in items if not r.scored)
    return SuiteResult(
        suite=suite.name,
        items=items,
        categories=categories,
        overall=round(fmean(categories.values()), 6),
        duration_s=round(time.monotonic() - started, 3),
        version=suite.version,
        unscored=dict(sorted(unscored.items())),
    )


def compare(
    candidate: Backend, champion: Backend, suite: Suite, *, max_new_tokens: int = 96
) -> tuple[SuiteResult, SuiteResult]:
    """The candidate and the champion on the very same prompts."""
    return (
        evaluate(candidate, suite, max_new_tokens=max_new_tokens),
        evaluate(champion, suite, max_new_tokens=max_new_tokens),
    )
