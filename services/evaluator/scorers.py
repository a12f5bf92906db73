"""Deterministic scorers: (model output, scorer spec) → a float in [0, 1].

Each suite item names its scorer as data (`{"type": "numeric", "expected": 42}`); the spec
models live in the shared suite contract (shared/suites.py) and validate those parameters when a
suite is loaded. This module holds one function per spec type, registered in `SCORERS`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from shared.sandbox import SandboxUnavailable, run_python
from shared.suites import (
    SCORER_SPECS,
    CodeExecSpec,
    ContainsSpec,
    ExactSpec,
    JsonToolCallSpec,
    LlmJudgeSpec,
    NumericSpec,
    RegexSpec,
    ScorerSpec,
    TokenBudgetSpec,
)

_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


def normalise(text: str) -> str:
    """Lower case, single spaces, no surrounding quotes or trailing punctuation."""
    text = " ".join(text.lower().split())
    return text.strip(" \"'`").rstrip(".!;:").strip()


def exact(output: str, spec: ExactSpec) -> float:
    return float(normalise(output) == normalise(spec.expected))


def contains(output: str, spec: ContainsSpec) -> float:
    text = output.lower()
    found = [s.lower() in text for s in spec.strings]
    return float(any(found)) if spec.mode == "any" else sum(found) / len(found)


def regex(output: str, spec: RegexSpec) -> float:
    return float(re.search(spec.pattern, output, re.IGNORECASE if spec.ignore_case else 0) is not None)


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first `{...}` in `text` that parses as a JSON object, or None."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\{", text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _same(actual: Any, expected: Any) -> bool:
    if isinstance(expected, str) and isinstance(actual, str):
        return normalise(actual) == normalise(expected)
    if isinstance(expected, int | float) and isinstance(actual, int | float) and not isinstance(actual, bool):
        return abs(actual - expected) < 1e-9
    return actual == expected


def json_tool_call(output: str, spec: JsonToolCallSpec) -> float:
    """0.2 for a JSON object, 0.4 for the right tool name, 0.4 × the fraction of arguments matched.

    Accepts `{"name": ..., "arguments": {...}}`, OpenAI's string-encoded `arguments`, and the
    same object wrapped in `{"tool_call": ...}` or `{"function": ...}`.
    """
    call = first_json_object(output)
    if call is None:
        return 0.0
    for key in ("tool_call", "function"):
        if isinstance(call.get(key), dict):
            call = call[key]
    args = call.get("arguments", call.get("args", {}))
    if isinstance(args, str):
        args = first_json_object(args) or {}
    if not isinstance(args, dict):
        args = {}
    score = 0.2
    if str(call.get("name", "")).strip() == spec.name:
        score += 0.4
    if spec.arguments:
        matched = sum(_same(args.get(k), v) for k, v in spec.arguments.items())
        score += 0.4 * matched / len(spec.arguments)
    else:
        score += 0.4
    return round(score, 6)


def last_number(text: str) -> float | None:
    numbers = _NUMBER.findall(text)
    if not numbers:
        return None
    try:
        return float(numbers[-1].replace(",", ""))
    except ValueError:
        return None


def numeric(output: str, spec: NumericSpec) -> float:
    value = last_number(output)
    return float(value is not None and abs(value - spec.expected) <= spec.tolerance)


def token_budget(output: str, spec: TokenBudgetSpec) -> float:
    """0 over budget (whitespace-separated words); within it, the fraction of keywords present."""
    if len(output.split()) > spec.max_words:
        return 0.0
    if not spec.keywords:
        return 1.0
    text = output.lower()
    return sum(k.lower() in text for k in spec.keywords) / len(spec.keywords)


class Unscorable(Exception):
    """This answer cannot be scored here (no sandbox, no judge verdict): counted and reported,
    never silently scored 0 or 1."""


_FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.DOTALL)


def extract_code(output: str) -> str:
    """The answer's first fenced code block (```python preferred), else the whole answer."""
    blocks = _FENCE.findall(output)
    return blocks[0] if blocks else output


def code_exec(output: str, spec: CodeExecSpec) -> float:
    """pass@1: the answer's code and the item's tests, run in the sandbox (shared/sandbox.py)."""
    code = extract_code(output)
    if not re.search(rf"\b(?:def|class)\s+{re.escape(spec.entry_point)}\b|\b{re.escape(spec.entry_point)}\s*=", code):
        return 0.0  # the function asked for is not there: no need to run anything
    try:
        result = run_python({"solution.py": code, "test_solution.py": spec.tests}, "test_solution.py",
                            timeout_s=spec.timeout_s)
    except SandboxUnavailable as err:
        raise Unscorable(str(err)) from None
    return 1.0 if result.ok else 0.0


JUDGE_TEMPLATE = """You are grading an answer against a rubric. Reply with one line: "Grade: N" where N is 1-5.

Rubric: {rubric}
{reference}Question: {question}

Answer to grade:
{answer}
"""
_GRADE = re.compile(r"grade\s*[:=]?\s*([1-5])\b", re.IGNORECASE)


def judge_prompt(question: str, output: str, spec: LlmJudgeSpec) -> list[dict[str, str]]:
    reference = f"Reference answer: {spec.reference}\n" if spec.reference else ""
    text = JUDGE_TEMPLATE.format(rubric=spec.rubric, reference=reference, question=question, answer=output)
    return [{"role": "user", "content": text}]


def parse_grade(verdict: str) -> float:
    """(grade − 1) / 4 from "Grade: N"; Unscorable when the judge said nothing parseable."""
    match = _GRADE.search(verdict)
    if match is None:
        raise Unscorable(f"unparseable judge verdict: {verdict.strip()[:80]!r}")
    return (int(match.group(1)) - 1) / 4


def llm_judge(output: str, spec: LlmJudgeSpec) -> float:
    raise Unscorable("llm_judge items are scored in batches by evaluate() with a judge model")


SCORERS: dict[str, Callable[[str, Any], float]] = {
    "exact": exact,
    "contains": contains,
    "regex": regex,
    "json_tool_call": json_tool_call,
    "numeric": numeric,
    "token_budget": token_budget,
    "code_exec": code_exec,
    "llm_judge": llm_judge,
}


def _check_every_spec_has_a_scorer() -> None:
    missing = [s.model_fields["type"].annotation.__args__[0] for s in SCORER_SPECS
               if s.model_fields["type"].annotation.__args__[0] not in SCORERS]
    if missing:
        raise RuntimeError(f"scorer spec types without a scorer function: {missing}")


_check_every_spec_has_a_scorer()


def score(output: str, spec: ScorerSpec) -> float:
    value = float(SCORERS[spec.type](output, spec))
    return min(1.0, max(0.0, value))
