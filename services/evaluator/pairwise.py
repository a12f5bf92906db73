"""Pairwise judging: for `llm_judge` items, the judge compares the candidate's answer with the
champion's, in both orders.

    pairs = judge_pairs(judge, suite, candidate_result, champion_result)
    pairs.preferences["architecture-03"]   # in [-1, 1]: > 0 the candidate's answer is better

A judge grading one answer at a time drifts with its mood; asked which of two answers is better
it is steadier, but prefers whichever answer it reads first (position bias). So each item is
asked twice, candidate as A then as B, and the two verdicts are averaged: a judge that always
says "A" ends at 0 for every item. The verdict is a JSON object `{"preference": N}`, N from -2
(A much better) to 2 (B much better), parsed against `Verdict` and clamped to that range; an item
whose verdict (in either order) does not parse is counted under `unscored` and left out of the
comparison, never scored as a tie. Identical answers are a tie without asking.
"""

from __future__ import annotations

from collections import Counter

from pydantic import BaseModel, ConfigDict, ValidationError

from services.evaluator.backends import Backend, Chat
from services.evaluator.evaluate import SuiteResult
from services.evaluator.scorers import first_json_object
from services.evaluator.suites import Suite
from shared.suites import LlmJudgeSpec

PAIR_TOKENS = 16  # '{"preference": -2}' with room for a space or a newline
UNPARSEABLE = "unparseable pairwise verdict"

PAIR_TEMPLATE = """You are comparing two answers to the same question against a rubric.
Reply with one JSON object and nothing else: {{"preference": N}} where N is
-2 if answer A is much better, -1 if A is better, 0 if they are equally good, 1 if B is better,
2 if B is much better.

Rubric: {rubric}
{reference}Question: {question}

Answer A:
{a}

Answer B:
{b}
"""


class Verdict(BaseModel):
    """The schema a pairwise verdict is parsed against; other keys are ignored."""

    model_config = ConfigDict(extra="ignore")
    preference: float


class PairwiseResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    preferences: dict[str, float]  # item id -> the candidate's advantage in [-1, 1]
    unscored: dict[str, int] = {}  # reason -> count of items left out
    notes: dict[str, str] = {}  # item id -> why it was left out


def pair_prompt(question: str, a: str, b: str, spec: LlmJudgeSpec) -> Chat:
    reference = f"Reference answer: {spec.reference}\n" if spec.reference else ""
    text = PAIR_TEMPLATE.format(rubric=spec.rubric, reference=reference, question=question, a=a, b=b)
    return [{"role": "user", "content": text}]


def parse_preference(verdict: str) -> float | None:
    """N from `{"preference": N}`, clamped to [-2, 2]; None when the verdict does not fit the schema."""
    obj = first_json_object(verdict)
    if obj is None:
        return None
    try:
        value = Verdict.model_validate(obj).preference
    except ValidationError:
        return None
    if value != value:  # NaN
        return None
    return min(2.0, max(-2.0, value))


def judge_pairs(judge: Backend, suite: Suite, candidate: SuiteResult, champion: SuiteResult) -> PairwiseResult:
    """The candidate's advantage per `llm_judge` item: the mean of the two orders, each in [-1, 1]."""
    cand = {r.id: r.output for r in candidate.items}
    champ = {r.id: r.output for r in champion.items}
    preferences: dict[str, float] = {}
    asked: list[tuple[str, Chat, Chat]] = []
    for item in suite.items:
        if not isinstance(item.scorer, LlmJudgeSpec) or item.id not in cand or item.id not in champ:
            continue
        if cand[item.id].strip() == champ[item.id].strip():
            preferences[item.id] = 0.0
            continue
        question = item.messages[-1].content
        asked.append((item.id, pair_prompt(question, cand[item.id], champ[item.id], item.scorer),
                      pair_prompt(question, champ[item.id], cand[item.id], item.scorer)))
    verdicts = judge.generate([p for _, ab, ba in asked for p in (ab, ba)], PAIR_TOKENS) if asked else []
    notes: dict[str, str] = {}
    for k, (item_id, _, _) in enumerate(asked):
        first, second = verdicts[2 * k], verdicts[2 * k + 1]
        a_is_candidate, b_is_candidate = parse_preference(first), parse_preference(second)
        if a_is_candidate is None or b_is_candidate is None:
            bad = first if a_is_candidate is None else second
            notes[item_id] = f"{UNPARSEABLE}: {bad.strip()[:80]!r}"
            continue
        # preference > 0 favours B: the candidate is A in the first order and B in the second
        preferences[item_id] = round((-a_is_candidate + b_is_candidate) / 4, 6)
    unscored = Counter(UNPARSEABLE for _ in notes)
    return PairwiseResult(preferences=preferences, unscored=dict(unscored), notes=notes)
