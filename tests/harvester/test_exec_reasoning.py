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
        try:
            expected = truth(call.split("(")[0], call)
        except ValueError:  # first_key on a line without a key: the answer names the raise
            assert "`raise ValueError(\"no key\")` raises ValueError: 'no key'" in d.answer, d.answer
            continue
        assert d.answer.rstrip().endswith(f"returns `{expected!r}` (an `{type(expected).__name__}`).") or \
            d.answer.rstrip().endswith(f"returns `{expected!r}` (a `{type(expected).__name__}`).") or \
            "raises `ValueError`" in d.answer, d.answer
    vowels = next(d for d in traces if "count_vowels" in d.prompt)
    word = eval(vowels.prompt.split("`")[1].removeprefix("count_vowels"))  # noqa: S307
    # one "takes the next item" step per character: the loop really ran over the input
    assert vowels.answer.count("takes the next item") == len(word)
    assert "`total = 0` sets total = 0" in vowels.answer
    # impure functions are refused by their AST, never run
    assert not any("env_value" in d.prompt for d in drafts)
    assert skips.counts["exec_reasoning:not_pure_reads_globals"] == 1
    # capped reads a module constant assigned from a literal: no longer refused, but its one line
    # `return min(n, LIMIT)` shows no inner value, so its traces teach nothing (counted)
    assert not any("`capped(" in d.prompt for d in traces) and skips.counts["exec_reasoning:trivial_trace"] >= 1


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
    assert skips.counts["exec_reasoning:sandbox_unavailable"] == 4  # count_vowels, clamp, capped, first_key
    assert exec_reasoning.NAME == "exec_reasoning"


@needs_sandbox
def test_arithmetic_traces_feed_the_reasoners_math(lib_repo: RepoBuilder) -> None:
    result = harvest(HarvestPlan(specialist="reasoner", repo=lib_repo.root, docs=False))
    by_fn = {(e.prompt.split("`")[1].split("(")[0], e.category) for e in result.examples
             if e.generator == "exec_reasoning"}
    assert ("count_vowels", "math") in by_fn  # `total += 1`: a number computed with arithmetic
    assert ("clamp", "reasoning") in by_fn and ("clamp", "math") not in by_fn  # compares only


CODEC = '''import os
import struct

_PACK = struct.Struct(">H").pack


def want_bytes(s: str | bytes) -> bytes:
    if isinstance(s, str):
        s = s.encode("utf-8")
    return s


def shout(s: str | bytes) -> bytes:
    data = want_bytes(s)
    return data.upper() + b"!"


def packed(n: int) -> bytes:
    return _PACK(n).lstrip(b"\\x00")


def with_sep(s: str) -> str:
    return s + os.sep


def scaled(n: int) -> int:
    if n > 5:
        return n * 2 + 1
    return n


def count_keys(d: dict[str, int]) -> int:
    total = 0
    for k in d:
        total += d[k]
    return total
'''


def codec_truth(call: str) -> object:
    ns: dict = {}
    exec(CODEC, ns)  # noqa: S102 - our own fixture code
    return eval(call, ns)  # noqa: S307


@needs_sandbox
def test_bytes_helpers_and_module_names_travel_with_the_function(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Add codec", {"pkg/__init__.py": "", "pkg/codec.py": CODEC})
    drafts, skips = run(repo_builder)
    traces = [d for d in drafts if d.task == "exec_trace" and d.format == "chat"]
    names = {d.prompt.split("`")[1].split("(")[0] for d in traces}
    # bytes and `str | bytes` parameters, a helper of the module, a pure stdlib module, a dict
    assert {"want_bytes", "shout", "packed", "scaled", "count_keys"} <= names
    # os is not a module that only computes: refused, never run
    assert "with_sep" not in names and skips.counts["exec_reasoning:not_pure_reads_globals"] == 1
    shout = next(d for d in traces if "`shout(" in d.prompt)
    # the prompt shows what the function reads: the helper's def (so the answer is derivable)
    assert "def want_bytes(s: str | bytes) -> bytes:" in shout.prompt
    packed = next(d for d in traces if "`packed(" in d.prompt)
    assert "import struct\n_PACK = struct.Struct('>H').pack" in packed.prompt.replace('"', "'")
    assert "import os" not in packed.prompt
    for d in traces:  # every final value is what the call returns here, in this process
        call = d.prompt.split("`")[1]
        try:
            expected = repr(codec_truth(call))
        except Exception as err:  # noqa: BLE001 - the answer must name the same exception
            assert f"raises `{type(err).__module__}.{type(err).__name__}`" in d.answer or \
                f"raises `{type(err).__name__}`" in d.answer, d.answer
            continue
        assert f"returns `{expected}`" in d.answer, (call, d.answer)


@needs_sandbox
def test_several_inputs_distinct_paths_and_arithmetic_per_trace(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Add codec", {"pkg/__init__.py": "", "pkg/codec.py": CODEC})
    drafts, skips = run(repo_builder)
    scaled = [d for d in drafts if d.task == "exec_trace" and d.format == "chat" and "`scaled(" in d.prompt]
    args = [int(d.prompt.split("`")[1][len("scaled("):-1]) for d in scaled]
    # more than the old three inputs, and at most PER_PATH traces take the same two-line path
    assert len(scaled) == 4 and sum(a > 5 for a in args) == 2 and sum(a <= 5 for a in args) == 2
    assert skips.counts["exec_reasoning:repeated_path"] >= 1
    # `arithmetic` only where the number came out of an arithmetic line that ran
    for d, a in zip(scaled, args, strict=True):
        assert d.hint == ("arithmetic" if a > 5 else None), (a, d.hint)
    keys = [d for d in drafts if "`count_keys(" in d.prompt and d.task == "exec_trace"]
    assert keys and all(d.hint == "arithmetic" for d in keys if "{}" not in d.prompt.split("`")[1])
