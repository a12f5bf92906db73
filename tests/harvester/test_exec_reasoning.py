"""Reasoning from execution: a real repository's pure functions run in the real sandbox; the answer's
final value is what the call returned, the steps are the lines that ran."""

from __future__ import annotations

import pytest

from services.harvester.base import Context, Skips
from services.harvester.core import harvest
from services.harvester.generators import exec_reasoning
from services.harvester.generators.exec_reasoning import ExecReasoning, is_pure
from services.harvester.plan import HarvestPlan
from shared import sandbox

from .conftest import RepoBuilder

LIB = '''"""Small helpers."""
import os

LIMIT = 3


def count_vowels(word: str) -> int:
    total = 0
    for ch in word.lower():
        if ch in "aeiou":
            total += 1
    return total


def clamp(n: int, low: int, high: int) -> int:
    if n < low:
        return low
    return min(n, high)


def env_value(name: str) -> str:
    return os.environ.get(name, "")


def capped(n: int) -> int:
    return min(n, LIMIT)


def first_key(line: str) -> str:
    key, _, value = line.partition("=")
    if not key.strip():
        raise ValueError("no key")
    return key.strip()
'''

needs_sandbox = pytest.mark.skipif(sandbox.available() is not None, reason=f"sandbox: {sandbox.available()}")


@pytest.fixture
def lib_repo(repo_builder: RepoBuilder) -> RepoBuilder:
    repo_builder.commit("Add helpers", {"pkg/__init__.py": "", "pkg/helpers.py": LIB})
    return repo_builder


def run(repo: RepoBuilder) -> tuple[list, Skips]:
    ctx = Context(plan=HarvestPlan(specialist="reasoner", repo=repo.root), skips=Skips())
    return list(ExecReasoning().run(ctx)), ctx.skips


def truth(name: str, call: str) -> object:
    """The call evaluated here, in the test process: what the answer must state."""
    ns: dict = {}
    exec(LIB.replace("import os", ""), ns)  # noqa: S102 - our own fixture code
    return eval(call, ns)  # noqa: S307


@needs_sandbox
def test_final_value_is_the_executed_truth_and_steps_follow_the_lines(lib_repo: RepoBuilder) -> None:
    drafts, skips = run(lib_repo)
    traces = [d for d in drafts if d.task == "exec_trace" and d.format == "chat"]
    assert {d.prompt.split("`")[1].split("(")[0] for d in traces} >= {"count_vowels", "clamp"}
    for d in traces:
        call = d.prompt.split("`")[1]
        expected = truth(call.split("(")[0], call)
        assert d.answer.rstrip().endswith(f"returns `{expected!r}` (an `{type(expected).__name__}`).") or \
            d.answer.rstrip().endswith(f"returns `{expected!r}` (a `{type(expected).__name__}`).") or \
            "raises `ValueError`" in d.answer, d.answer
    vowels = next(d for d in traces if "count_vowels" in d.prompt)
    word = eval(vowels.prompt.split("`")[1].removeprefix("count_vowels"))  # noqa: S307
    # one "takes the next item" step per character: the loop really ran over the input
    assert vowels.answer.count("takes the next item") == len(word)
    assert "`total = 0` sets total = 0" in vowels.answer
    # impure functions are refused by their AST, never run
    assert not any("env_value" in d.prompt or "capped(" in d.prompt for d in drafts)
    assert skips.counts["exec_reasoning:not_pure_reads_globals"] == 2


@needs_sandbox
def test_think_draft_and_pinning_test_through_the_core(lib_repo: RepoBuilder) -> None:
    result = harvest(HarvestPlan(specialist="coder", repo=lib_repo.root, docs=False))
    mine = [e for e in result.examples if e.generator == "exec_reasoning"]
    think = [e for e in mine if e.format == "think"]
    assert think and all(e.response.startswith("<think>\n") and "</think>" in e.response for e in think)
    assert {e.category for e in mine} == {"debugging", "test_generation"}
    test = next(e for e in mine if e.category == "test_generation" and "clamp" in e.prompt)
    code = test.response.strip().removeprefix("```python\n").removesuffix("```")
    ns: dict = {}
    exec(LIB.replace("import os", ""), ns)  # noqa: S102
    exec(code.replace("from pkg.helpers import clamp", ""), ns)  # noqa: S102 - the pinned values hold
    ns["test_clamp"]()


def test_purity_is_decided_by_the_ast() -> None:
    import ast

    tree = ast.parse(LIB)
    fns = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    assert is_pure(fns["count_vowels"]) is None and is_pure(fns["clamp"]) is None
    assert is_pure(fns["env_value"]) == "reads_globals"
    assert is_pure(ast.parse("def f(x):\n    return x\n").body[0]) == "param_types"
    writes_global = "def f(x: int) -> None:\n    global y\n    y = x\n    return y\n"
    assert is_pure(ast.parse(writes_global).body[0]) == "side_effects"


def test_no_sandbox_runs_nothing_and_counts_why(lib_repo: RepoBuilder, monkeypatch: pytest.MonkeyPatch) -> None:
    # a machine where the namespaces cannot be made: what `available()` reports there
    monkeypatch.setattr(sandbox, "available", lambda: "needs root to make mount and network namespaces")
    drafts, skips = run(lib_repo)
    assert drafts == []
    assert skips.counts["exec_reasoning:sandbox_unavailable"] == 3  # count_vowels, clamp, first_key
    assert exec_reasoning.NAME == "exec_reasoning"


@needs_sandbox
def test_arithmetic_traces_feed_the_reasoners_math(lib_repo: RepoBuilder) -> None:
    result = harvest(HarvestPlan(specialist="reasoner", repo=lib_repo.root, docs=False))
    by_fn = {(e.prompt.split("`")[1].split("(")[0], e.category) for e in result.examples
             if e.generator == "exec_reasoning"}
    assert ("count_vowels", "math") in by_fn  # `total += 1`: a number computed with arithmetic
    assert ("clamp", "reasoning") in by_fn and ("clamp", "math") not in by_fn  # compares only
