from __future__ import annotations

import json

import pytest
from pydantic import TypeAdapter, ValidationError

from services.evaluator.scorers import ScorerSpec, first_json_object, last_number, score

SPEC = TypeAdapter(ScorerSpec)


def s(output: str, **spec: object) -> float:
    return score(output, SPEC.validate_python(spec))


def test_exact_normalises_case_space_and_trailing_punctuation() -> None:
    assert s("  Coder.\n", type="exact", expected="coder") == 1.0
    assert s("'Paris'", type="exact", expected="paris") == 1.0
    assert s("the coder", type="exact", expected="coder") == 0.0


def test_contains_any_and_all() -> None:
    assert s("Route it to the CODER", type="contains", strings=["coder", "reasoner"]) == 1.0
    assert s("nothing here", type="contains", strings=["coder"]) == 0.0
    assert s("coder then reasoner", type="contains", strings=["coder", "reasoner"], mode="all") == 1.0
    assert s("coder only", type="contains", strings=["coder", "reasoner"], mode="all") == 0.5


def test_regex() -> None:
    assert s("Orchestrator, because...", type="regex", pattern=r"^\W*orchestrator\b") == 1.0
    assert s("The answer is C.", type="regex", pattern=r"\bC\b", ignore_case=False) == 1.0
    assert s("the answer is c", type="regex", pattern=r"\bC\b", ignore_case=False) == 0.0


def test_json_tool_call_scores_validity_name_and_arguments() -> None:
    spec = {"type": "json_tool_call", "name": "rollback", "arguments": {"specialist": "coder", "checkpoint_id": "c7"}}
    good = 'Sure: {"name": "rollback", "arguments": {"specialist": "Coder", "checkpoint_id": "c7"}} done'
    assert s(good, **spec) == 1.0
    assert s('{"name": "rollback", "arguments": {"specialist": "coder"}}', **spec) == 0.8
    assert s('{"name": "start_cycle", "arguments": {}}', **spec) == 0.2
    assert s("rollback(coder, c7)", **spec) == 0.0
    # OpenAI style: arguments as a JSON string, wrapped in "function"
    arguments = json.dumps(json.dumps({"specialist": "coder", "checkpoint_id": "c7"}))
    wrapped = '{"function": {"name": "rollback", "arguments": ' + arguments + "}}"
    assert s(wrapped, **spec) == 1.0
    assert s('{"name": "get_status"}', type="json_tool_call", name="get_status") == 1.0


def test_first_json_object_skips_broken_braces() -> None:
    assert first_json_object('a {broken {"name": "x"} b') == {"name": "x"}
    assert first_json_object("[1, 2]") is None


def test_numeric_uses_the_last_number() -> None:
    assert s("1200 - 840 = 360", type="numeric", expected=360) == 1.0
    assert s("so the total is 1,210.", type="numeric", expected=1210) == 1.0
    assert s("mean is 0.7000", type="numeric", expected=0.7, tolerance=1e-3) == 1.0
    assert s("360 or maybe 361", type="numeric", expected=360) == 0.0
    assert s("no idea", type="numeric", expected=1) == 0.0
    assert last_number("x = -3.5") == -3.5


def test_token_budget() -> None:
    assert s("It filters examples.", type="token_budget", max_words=5) == 1.0
    assert s("one two three four five six", type="token_budget", max_words=5) == 0.0
    assert s("It filters and dedups.", type="token_budget", max_words=5, keywords=["filter", "balance"]) == 0.5


def test_unknown_scorer_type_and_bad_params_are_rejected() -> None:
    with pytest.raises(ValidationError, match="bleu"):
        SPEC.validate_python({"type": "bleu"})
    with pytest.raises(ValidationError, match="max_words"):
        SPEC.validate_python({"type": "token_budget", "max_words": 0})
    with pytest.raises(ValidationError, match="expeted"):
        SPEC.validate_python({"type": "exact", "expeted": "x"})


def test_code_exec_runs_the_answer_against_its_tests() -> None:
    from services.evaluator.scorers import code_exec
    from shared.sandbox import available
    from shared.suites import CodeExecSpec

    if available() is not None:
        pytest.skip(f"sandbox unavailable here: {available()}")
    spec = CodeExecSpec(type="code_exec", entry_point="add", tests="from solution import add\nassert add(2, 3) == 5\n")
    assert code_exec("Here you go:\n```python\ndef add(a, b):\n    return a + b\n```\n", spec) == 1.0
    assert code_exec("```python\ndef add(a, b):\n    return a - b\n```", spec) == 0.0
    assert code_exec("I would add them.", spec) == 0.0  # no function: nothing is run


def test_a_judge_verdict_is_parsed_or_counted_never_guessed() -> None:
    from services.evaluator.scorers import Unscorable, parse_grade

    assert parse_grade("Grade: 5") == 1.0 and parse_grade("grade=1 because") == 0.0
    assert parse_grade("I think... Grade: 3.") == 0.5
    with pytest.raises(Unscorable, match="unparseable"):
        parse_grade("The answer is good.")
