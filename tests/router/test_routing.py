"""The effort estimate, the code decision and the rule table (the seed rule and one from a file)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.router.routing import Estimate, RoutingError, choose, estimate
from shared.specialists import SpecialistConfigError, load_specialists, specialists

SUITES = Path(__file__).resolve().parents[2] / "shared" / "suites"


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def test_a_short_plain_question_is_low_effort_and_no_code() -> None:
    est = estimate(user("What is the capital of France?"))
    assert est == Estimate(effort=1, code=False, why=())


@pytest.mark.parametrize("text", [
    "Fix this:\n```python\ndef f(x):\n    return x +\n```",
    "Traceback (most recent call last):\n  File \"a.py\", line 1\nNameError: x",
    "Refactor the parser function so it handles empty input",
])
def test_code_blocks_tracebacks_and_code_words_are_code(text: str) -> None:
    assert estimate(user(text)).code


def test_a_derivation_is_high_effort() -> None:
    est = estimate(user("Prove that there are infinitely many primes."))
    assert est.effort >= 7 and "derivation" in est.why and not est.code


def test_length_raises_effort() -> None:
    short = estimate(user("Summarise the meeting."))
    long = estimate(user("Summarise the meeting. " + "We talked about the roadmap and the budget. " * 40))
    assert long.effort > short.effort


def test_tool_definitions_make_it_the_orchestrators_kind_of_request() -> None:
    tools = [{"type": "function", "function": {"name": "run_tests", "parameters": {}}}]
    est = estimate(user("Run the unit tests for the parser module"), tools=tools)
    assert not est.code and "tools" in est.why
    assert choose(est, specialists()) == "orchestrator"


def test_the_effort_header_overrides_the_estimate_and_is_validated() -> None:
    assert estimate(user("hi"), effort_header="9").effort == 9
    for bad in ("0", "11", "lots"):
        with pytest.raises(RoutingError, match="X-Ouro-Effort"):
            estimate(user("hi"), effort_header=bad)


@pytest.mark.parametrize(("effort", "code", "expected"), [
    (1, False, "orchestrator"), (6, False, "orchestrator"), (7, False, "reasoner"), (10, False, "reasoner"),
    (2, True, "coder"), (9, True, "coder"),
])
def test_the_seed_rule(effort: int, code: bool, expected: str) -> None:
    # effort 1-6 → orchestrator, code → coder, 7+ → reasoner (the shipped file spells it out)
    assert choose(Estimate(effort, code), specialists()) == expected


def _file(tmp_path: Path, routing: dict[str, str]) -> Path:
    entries = "\n".join(
        f"  {name}:\n    suite: {name if (SUITES / name).is_dir() else 'reasoner'}\n"
        f"    categories: {{reasoning: null}}\n" + (f"    routing: {r}\n" if r else "")
        for name, r in routing.items())
    path = tmp_path / "specialists.yaml"
    path.write_text("specialists:\n" + entries)
    return path


def test_routing_rules_are_data_in_the_specialist_file(tmp_path: Path) -> None:
    table = load_specialists(_file(tmp_path, {
        "orchestrator": "{effort: [1, 3]}", "reasoner": "{effort: [4, 10], code: false}", "coder": "{code: true}",
    }))
    assert choose(Estimate(5, False), table) == "reasoner"
    assert choose(Estimate(5, True), table) == "coder"
    assert choose(Estimate(2, False), table) == "orchestrator"


def test_without_routing_the_seed_names_get_the_seed_rule_and_others_only_their_name(tmp_path: Path) -> None:
    table = load_specialists(_file(tmp_path, {"orchestrator": "", "coder": "", "writer": ""}))
    assert table["coder"].routing is not None and table["coder"].routing.code is True
    assert table["writer"].routing is None
    # effort 8, no code: the reasoner's band, but there is no reasoner → the first specialist
    assert choose(Estimate(8, False), table) == "orchestrator"


@pytest.mark.parametrize("bad", ["{effort: [0, 5]}", "{effort: [7, 3]}", "{code: maybe}", "{effort: [1, 6], x: 1}"])
def test_a_bad_routing_rule_is_refused_at_load(tmp_path: Path, bad: str) -> None:
    with pytest.raises(SpecialistConfigError, match="routing"):
        load_specialists(_file(tmp_path, {"orchestrator": bad}))
