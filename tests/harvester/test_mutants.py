"""Bugs put in on purpose and caught by the repository's own tests, run for real in the sandbox: only a
mutant the tests kill becomes an example, its failure is what pytest printed for it, and the fix
restores the line the repository has."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.harvester.base import Context, Draft, Skips
from services.harvester.core import harvest
from services.harvester.generators.mutants import Mutants, mutations, sites_of
from services.harvester.plan import HarvestPlan
from shared import sandbox

from .conftest import RepoBuilder

CALC = '''"""Small numeric helpers."""


def clamp(n: int, low: int, high: int) -> int:
    if n < low:
        return low
    if n > high:
        return high
    return n


def is_even(n: int) -> bool:
    """Whether n divides by two."""
    if n % 2 == 0:
        return True
    return False


def total(xs: list[int]) -> int:
    s = 0
    for x in xs:
        s = s + x
    return s


def both(a: bool, b: bool) -> bool:
    return a and b
'''
OTHER = '''def shout(s: str) -> str:
    if not s:
        return s
    return s.upper() + "!"
'''
TESTS = '''from pkg.calc import clamp, is_even, total


def test_clamp():
    assert clamp(5, 0, 3) == 3
    assert clamp(-1, 0, 3) == 0
    assert clamp(2, 0, 3) == 2


def test_is_even():
    assert is_even(4)
    assert not is_even(3)


def test_total():
    assert total([1, 2, 3]) == 6
'''
# what each test exercises: a failure is only ever reported against the function its test calls
EXERCISES = {"test_clamp": "clamp", "test_is_even": "is_even", "test_total": "total"}

needs_sandbox = pytest.mark.skipif(sandbox.available() is not None, reason=f"sandbox: {sandbox.available()}")


@pytest.fixture
def calc_repo(repo_builder: RepoBuilder) -> RepoBuilder:
    repo_builder.commit("calc", {
        "pkg/__init__.py": "", "pkg/calc.py": CALC, "pkg/other.py": OTHER, "tests/test_calc.py": TESTS,
        # a test file that cannot run here (its dependency is not installed): never a baseline
        "pkg/broken.py": "def half(:\n",  # not Python: skipped and counted, the rest goes on
        "tests/test_needs_dep.py": "import not_installed_anywhere\nfrom pkg import calc\n\n\ndef test_x():\n"
                                   "    assert calc.both(True, True)\n",
    })
    return repo_builder


def run(repo: RepoBuilder, budget: float = 240.0) -> tuple[list[Draft], dict[str, int]]:
    ctx = Context(plan=HarvestPlan(specialist="coder", repo=repo.root, mutant_budget_s=budget), skips=Skips())
    return list(Mutants().run(ctx)), dict(ctx.skips.counts)


def _fix(answer: str) -> tuple[str, str]:
    m = re.search(r"```diff\n-(.*)\n\+(.*)\n```", answer)
    assert m, answer
    return m.group(1), m.group(2)


def test_mutations_are_one_line_edits_of_the_operators_the_ast_shows() -> None:
    import ast

    tree = ast.parse(CALC)
    sites = {s.qualname: s for s in sites_of("pkg/calc.py", CALC, tree)}
    assert set(sites) == {"clamp", "is_even", "total", "both"}
    clamp = {(m.original.strip(), m.mutated.strip()) for m in sites["clamp"].mutants}
    assert ("if n < low:", "if n <= low:") in clamp and ("if n > high:", "if n >= high:") in clamp
    assert {(m.original.strip(), m.mutated.strip()) for m in sites["is_even"].mutants} >= {
        ("if n % 2 == 0:", "if n % 2 != 0:"), ("if n % 2 == 0:", "if n % 2 == 1:"), ("return True", "return False")}
    assert ("s = s + x", "s = s - x") in {(m.original.strip(), m.mutated.strip()) for m in sites["total"].mutants}
    assert [(m.original.strip(), m.mutated.strip()) for m in sites["both"].mutants] == [("return a and b",
                                                                                         "return a or b")]
    # the docstring is text, not code: nothing in it is mutated
    assert all("divides" not in m.original for s in sites.values() for m in s.mutants)
    # text joined with `+` is not turned into `-`
    other = list(sites_of("pkg/other.py", OTHER, ast.parse(OTHER)))
    assert [(m.original.strip(), m.mutated.strip()) for s in other for m in s.mutants] == [("if not s:", "if s:")]
    fn = tree.body[1]
    assert all(e.line >= fn.lineno for e in mutations(fn, CALC.splitlines()))


@needs_sandbox
def test_only_killed_mutants_become_examples_with_their_own_failure_and_the_real_fix(calc_repo: RepoBuilder) -> None:
    drafts, skips = run(calc_repo)
    fixes = [d for d in drafts if d.task == "fix_mutant" and d.format == "chat"]
    reviews = [d for d in drafts if d.task == "review_mutant"]
    assert fixes and len(reviews) == len(fixes)
    lines = CALC.splitlines()
    killed = set()
    for d in fixes:
        test = re.search(r"The test `(\w+)` fails", d.prompt).group(1)
        fn = re.search(r"It exercises `(\w+)`", d.prompt).group(1)
        # the failure is this mutant's own: its test calls the mutated function
        assert EXERCISES[test] == fn, d.prompt
        mutated, original = _fix(d.answer)
        assert original in lines and mutated not in lines  # the fix is the repository's own line
        assert mutated.strip() in d.prompt and original.strip() not in d.prompt.split("which reads:")[1]
        assert "\nE " in d.prompt  # pytest's own `E` lines: what failed
        killed.add(fn)
    assert {"is_even", "total"} <= killed
    # `both` is imported by no runnable test and `clamp(n <= low)` returns `low` either way: they survive
    assert skips.get("mutants:survived", 0) >= 1
    assert "both" not in killed
    # the test file whose import fails on the unchanged code is never used
    assert skips["mutants:baseline_failing"] == 1
    assert skips["mutants:no_test_file"] == 1  # pkg/other.py: no test imports it
    assert skips["mutants:unparsable"] == 1  # pkg/broken.py
    for d in reviews:
        assert "```diff" in d.prompt and "CI ran the project's tests" in d.prompt
        assert d.answer.startswith("Request changes")


@needs_sandbox
def test_mapped_to_debugging_and_review_for_the_coder_and_reasoning_for_the_orchestrator(
        calc_repo: RepoBuilder) -> None:
    coder = [e for e in harvest(HarvestPlan(specialist="coder", repo=calc_repo.root, docs=False)).examples
             if e.generator == "mutants"]
    assert {e.category for e in coder} == {"debugging", "review"}
    orch = [e for e in harvest(HarvestPlan(specialist="orchestrator", repo=calc_repo.root, docs=False)).examples
            if e.generator == "mutants"]
    assert {e.category for e in orch} == {"reasoning", "code_review"}


def test_a_zero_budget_runs_nothing(calc_repo: RepoBuilder) -> None:
    drafts, skips = run(calc_repo, budget=0)
    assert drafts == [] and skips == {}


def test_without_the_sandbox_nothing_runs_unconfined(calc_repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "available", lambda: "needs root to make mount and network namespaces")
    drafts, skips = run(calc_repo)
    assert drafts == []
    assert skips["mutants:sandbox_unavailable"] >= 3


def test_the_repository_is_untouched(calc_repo: RepoBuilder) -> None:
    before = {p: p.read_text() for p in Path(calc_repo.root).rglob("*.py")}
    run(calc_repo)
    assert {p: p.read_text() for p in Path(calc_repo.root).rglob("*.py")} == before


def test_the_explanation_reads_the_expression_and_where_it_sits() -> None:
    import ast

    from services.harvester.generators.mutants import explanation

    src = ("def f(x: int, key: str | None = None) -> int:\n    if key is None:\n        key = 'k'\n"
           "    if x > 3:\n        return 1\n    return 0\n")
    ms = {m.mutated.strip(): m for s in sites_of("m.py", src, ast.parse(src)) for m in s.mutants}
    # the None-default idiom, named as such
    assert "overwritten by the default" in explanation(ms["if key is not None:"])
    assert "`key` the caller passed" in explanation(ms["if key is not None:"])
    # a boundary and an off-by-one, each with its own expression
    assert explanation(ms["if x >= 3:"]).startswith("`x >= 3` differs from `x > 3` only when the two sides are equal")
    assert explanation(ms["if x > 4:"]) == "`x > 4` is off by one: the intended bound is `3`, not `4`."


def test_the_error_named_is_the_one_that_finally_failed() -> None:
    from services.harvester.generators.mutants import error_line

    block = ("src/a.py:3: in loads\n    raise BadSignature('x')\nE   BadSignature: does not match\n\n"
             "During handling of the above exception, another exception occurred:\n"
             "tests/test_a.py:9: in test_x\n    f()\nE   TypeError: argument after ** must be a mapping\n"
             "E     more detail\n")
    assert error_line(block) == "TypeError: argument after ** must be a mapping"
    assert error_line("tests/t.py:1: in t\nE   AssertionError: assert 1 == 2\nE     detail\n") == \
        "AssertionError: assert 1 == 2"


@needs_sandbox
def test_without_pytest_in_the_sandbox_nothing_is_claimed_and_it_says_why(calc_repo: RepoBuilder,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    from services.harvester.generators import mutants

    # the runner as it would be on an interpreter without pytest
    without = mutants.RUNNER.replace("    import pytest  #", "    import pytest_absent  #")
    assert without != mutants.RUNNER
    monkeypatch.setattr(mutants, "RUNNER", without)
    drafts, skips = run(calc_repo)
    assert drafts == []
    assert skips["mutants:pytest_unavailable"] >= 3 and "mutants:baseline_failing" not in skips
