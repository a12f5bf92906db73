"""Pairwise judging of `llm_judge` items against the local OpenAI-compatible stand-in: both orders
cancel a judge's position bias, verdicts are parsed against the schema and clamped, malformed ones
are counted and never scored, and verdicts come from the on-disk cache the second time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.evaluator.backends import OpenAIBackend
from services.evaluator.evaluate import SuiteResult, evaluate
from services.evaluator.local_server import serve
from services.evaluator.pairwise import UNPARSEABLE, judge_pairs, parse_preference
from services.evaluator.service import paired_stats
from services.evaluator.suites import Suite, load_suite
from services.evaluator.verdict_cache import CachedJudge, VerdictCache

GOOD = "The evaluator scores candidate and champion on the same prompts, then the promoter decides."
POOR = "It is a program."


class Scripted:
    """A judge model: answers each pairwise prompt with `rule(answer_a, answer_b)`, counting calls."""

    def __init__(self, rule) -> None:  # noqa: ANN001 - a callable (str, str) -> str
        self.rule, self.calls = rule, 0

    def generate(self, prompts: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
        out = []
        for p in prompts:
            self.calls += 1
            m = re.search(r"Answer A:\n(.*)\n\nAnswer B:\n(.*)\n$", p[-1]["content"], re.DOTALL)
            assert m, p[-1]["content"]
            out.append(self.rule(m.group(1), m.group(2)))
        return out


class Canned:
    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, prompts: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
        return [self.text] * len(prompts)


@pytest.fixture(scope="module")
def suite() -> Suite:
    items = [i for i in load_suite("orchestrator").items if i.scorer.type == "llm_judge"][:4]
    return Suite(name="judged", items=tuple(items))


@pytest.fixture(scope="module")
def answers(suite: Suite) -> tuple[SuiteResult, SuiteResult]:
    return evaluate(Canned(GOOD), suite), evaluate(Canned(POOR), suite)  # candidate good, champion poor


def _judge(rule) -> Iterator[tuple[OpenAIBackend, Scripted]]:  # noqa: ANN001
    backend = Scripted(rule)
    server = serve(backend, model_name="judge")
    try:
        yield OpenAIBackend(server.url, "judge", concurrency=2), backend
    finally:
        server.shutdown()
        server.server_close()


def prefers_good(a: str, b: str) -> str:
    return '{"preference": -2}' if a == GOOD else '{"preference": 2}'


def test_the_better_answer_wins_in_both_orders(suite: Suite, answers) -> None:  # noqa: ANN001
    candidate, champion = answers
    for judge, _ in _judge(prefers_good):
        result = judge_pairs(judge, suite, candidate, champion)
        assert result.preferences == {i.id: 1.0 for i in suite.items} and result.unscored == {}
        # swapped roles: the champion's answer is the better one
        assert set(judge_pairs(judge, suite, champion, candidate).preferences.values()) == {-1.0}


def test_both_orders_cancel_a_judge_that_always_prefers_answer_a(suite: Suite, answers) -> None:  # noqa: ANN001
    candidate, champion = answers
    for judge, scripted in _judge(lambda a, b: '{"preference": -1}'):
        result = judge_pairs(judge, suite, candidate, champion)
        assert result.preferences == {i.id: 0.0 for i in suite.items}
        assert scripted.calls == 2 * len(suite.items)  # each item asked in both orders


def test_verdicts_are_clamped_to_the_scale(suite: Suite, answers) -> None:  # noqa: ANN001
    candidate, champion = answers
    for judge, _ in _judge(lambda a, b: '{"preference": -9}' if a == GOOD else 'Sure. {"preference": 40, "why": "x"}'):
        assert set(judge_pairs(judge, suite, candidate, champion).preferences.values()) == {1.0}
    assert parse_preference('{"preference": "1"}') == 1.0
    assert parse_preference('{"preference": -0.5}') == -0.5


@pytest.mark.parametrize("malformed", ["A is clearly better.", '{"winner": "A"}', '{"preference": "much"}',
                                       '{"preference": NaN}', ""])
def test_a_malformed_verdict_is_counted_never_scored(suite: Suite, answers, malformed: str) -> None:  # noqa: ANN001
    candidate, champion = answers
    # well-formed in one order only: the item is still left out
    for judge, _ in _judge(lambda a, b: '{"preference": -2}' if a == GOOD else malformed):
        result = judge_pairs(judge, suite, candidate, champion)
        assert result.preferences == {} and result.unscored == {UNPARSEABLE: len(suite.items)}
        assert all(note.startswith(UNPARSEABLE) for note in result.notes.values())
        stats = paired_stats(candidate, champion, 0.95, result)
        assert all(p.n == 0 for p in stats.paired.values())  # nothing compared, nothing guessed


def test_identical_answers_are_a_tie_without_asking(suite: Suite, answers) -> None:  # noqa: ANN001
    candidate, _ = answers
    scripted = Scripted(prefers_good)
    assert set(judge_pairs(scripted, suite, candidate, candidate).preferences.values()) == {0.0}
    assert scripted.calls == 0


def test_the_preferences_are_the_paired_comparison(suite: Suite, answers) -> None:  # noqa: ANN001
    candidate, champion = answers
    result = judge_pairs(Scripted(prefers_good), suite, candidate, champion)
    stats = paired_stats(candidate, champion, 0.95, result)
    # the absolute grades were never given (no judge in evaluate): only the pairwise verdicts compare
    assert sum(p.n for p in stats.paired.values()) == len(suite.items)
    assert stats.overall.diff == pytest.approx(1.0)
    assert stats.overall.better == len(suite.items) and stats.overall.worse == 0


def test_verdicts_are_cached_on_disk_by_judge_prompt_and_both_outputs(
    suite: Suite, answers, tmp_path: Path  # noqa: ANN001
) -> None:
    candidate, champion = answers
    path = tmp_path / "judge" / "verdicts.sqlite"
    for judge, scripted in _judge(prefers_good):
        first = CachedJudge(judge, "judge@stand-in", VerdictCache(path))
        before = judge_pairs(first, suite, candidate, champion)
        assert (first.misses, first.hits, scripted.calls) == (2 * len(suite.items), 0, 2 * len(suite.items))
        # a new process (a new cache object on the same file): every verdict from disk, no judge call
        again = CachedJudge(judge, "judge@stand-in", VerdictCache(path))
        assert judge_pairs(again, suite, candidate, champion) == before
        assert (again.hits, again.misses, scripted.calls) == (2 * len(suite.items), 0, 2 * len(suite.items))
        # another judge model, or another output, is another key
        other = CachedJudge(judge, "another-judge", VerdictCache(path))
        judge_pairs(other, suite, candidate, champion)
        assert other.misses == 2 * len(suite.items)
        changed = evaluate(Canned(GOOD + " Also the sandbox."), suite)
        judge_pairs(again, suite, changed, champion)
        assert again.misses == 2 * len(suite.items)
