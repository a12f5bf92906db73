"""Goals and planning (a feature's commit series, a multi-step session task → the plan) and
interrupts (a stopped or redirected request → what to do now, with the reason), on real inputs."""

from __future__ import annotations

import json
from pathlib import Path

from services.harvester.base import Context, Skips
from services.harvester.core import harvest
from services.harvester.generators.interrupts import Interrupts
from services.harvester.generators.planning import Planning
from services.harvester.plan import HarvestPlan

from .conftest import RepoBuilder

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "sessions"


def run(gen, plan: HarvestPlan) -> tuple[list, Skips]:
    ctx = Context(plan=plan, skips=Skips())
    return list(gen.run(ctx)), ctx.skips


def call(name: str, args: dict) -> dict:
    return {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}]}


def test_a_feature_built_over_several_commits_becomes_its_plan(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Initial import", {"pkg/__init__.py": ""})  # a root commit imports, it changes nothing
    repo_builder.commit("Add a rate limiter", {"pkg/limiter.py": "def allow(n: int) -> bool:\n    return n < 10\n"})
    repo_builder.commit("Unrelated: README", {"README.md": "# pkg\n"})
    repo_builder.commit("Limiter: a window per client",
                        {"pkg/limiter.py": "def allow(n: int, window: int = 60) -> bool:\n    return n < 10\n"})
    repo_builder.commit("Limiter: tests", {"tests/test_limiter.py": "from pkg.limiter import allow\n\n\n"
                                                                    "def test_allow():\n    assert allow(1)\n",
                                           "pkg/limiter.py": "def allow(n: int, window: int = 60) -> bool:\n"
                                                             "    return n < 10 and window > 0\n"})
    [d], _ = run(Planning(), HarvestPlan(specialist="orchestrator", repo=repo_builder.root))
    assert d.task == "plan_feature" and "Goal: Add a rate limiter" in d.prompt
    assert "`pkg/limiter.py`" in d.prompt and "`tests/test_limiter.py`" in d.prompt  # the files involved
    assert "Code involved: `allow(n, window)`, `test_allow`" in d.prompt
    steps = [ln for ln in d.answer.splitlines() if ln[:1].isdigit()]
    # the steps in the order the work was done; the README commit touched nothing of the feature
    assert steps == ["1. Create `pkg/limiter.py` and add `allow(n)`.",
                     "2. In `pkg/limiter.py`, change `allow(window)`: add the parameter `window` (default `60`).",
                     "3. In `pkg/limiter.py`, change `allow(n, window)`: return `n < 10 and window > 0`.",
                     "4. Create `tests/test_limiter.py` and add the test `test_allow` to call `allow`."]
    assert "README" not in d.answer
    assert d.answer.endswith("as 3 commits, in this order: steps 1, then 2, then 3-4. "
                             "Done when the tests in `tests/test_limiter.py` pass.")


def test_a_multi_step_session_task_becomes_its_plan(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text(json.dumps({"id": "t", "messages": [
        {"role": "user", "content": "Retrain the coder, math was weak."},
        call("start_cycle", {"specialist": "coder", "weak": ["math"]}),
        {"role": "assistant", "content": "Started c-1."},
        {"role": "user", "content": "And tell me when it is evaluated."},
        call("get_status", {"cycle_id": "c-1"}),
        {"role": "assistant", "content": "It is in evaluation."}]}) + "\n")
    [d], _ = run(Planning(), HarvestPlan(specialist="orchestrator", sessions=path))
    assert d.task == "plan_session" and "Request: Retrain the coder, math was weak." in d.prompt
    assert "`get_status`, `start_cycle`" in d.prompt  # the tools it has
    assert d.answer.splitlines() == ['1. Call `start_cycle` with {"specialist": "coder", "weak": ["math"]}.',
                                     '   (then the operator asks: "And tell me when it is evaluated.")',
                                     '2. Call `get_status` with {"cycle_id": "c-1"}.']


def test_interrupts_stop_and_redirect(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in [
        {"id": "a", "messages": [
            {"role": "user", "content": "Run the whole test suite."},
            call("run_tests", {"path": "tests"}),
            {"role": "user", "content": "Actually, only the judge tests."},
            call("run_tests", {"path": "tests/judge"}),
            {"role": "assistant", "content": "41 passed."}]},
        {"id": "b", "messages": [
            {"role": "user", "content": "How big is the corpus?"},
            {"role": "assistant", "content": "2,604 live examples."},
            {"role": "user", "content": "And the reasoner's?"},
            {"role": "assistant", "content": "1,120 live examples."}]},
    ]) + "\n")
    [d], _ = run(Interrupts(), HarvestPlan(specialist="orchestrator", sessions=path))  # the follow-up in b: none
    assert d.hint == "redirected"
    assert d.answer.startswith('Drop "Run the whole test suite.": the operator turned away from it ("Actually")')
    assert '`run_tests` with {"path": "tests"} had already been called for it' in d.answer
    assert d.answer.endswith('Now call `run_tests` with {"path": "tests/judge"}.')


def test_shipped_sessions_interrupted_request_and_categories() -> None:
    found, _ = run(Interrupts(), HarvestPlan(specialist="orchestrator", sessions=EXAMPLES))
    stop = next(d for d in found if d.session_id == "agent-010")
    assert "[the operator interrupted the assistant here]" in stop.prompt
    assert stop.answer.startswith('Stop working on "Start a cycle for everything." and do not retry it')
    assert "no tool had run for it yet" in stop.answer
    result = harvest(HarvestPlan(specialist="orchestrator", sessions=EXAMPLES))
    assert {e.category for e in result.examples if e.generator == "interrupts"} == {"orchestration"}
