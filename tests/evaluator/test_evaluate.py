from __future__ import annotations

from pathlib import Path

import pytest

from services.evaluator.backends import BackendError, OpenAIBackend, TransformersBackend
from services.evaluator.evaluate import compare, evaluate
from services.evaluator.local_server import serve
from services.evaluator.scorers import score
from services.evaluator.suites import Suite, SuiteItem, load_suite
from shared.specialists import profile


@pytest.fixture(scope="module")
def backend(tiny_model: Path) -> TransformersBackend:
    return TransformersBackend(tiny_model, batch_size=16)


class Canned:
    """A backend that answers every prompt with the same text."""

    def __init__(self, text: str) -> None:
        self.text = text

    def generate(self, prompts: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
        return [self.text] * len(prompts)


def test_evaluate_tiny_model_on_the_orchestrator_suite(backend: TransformersBackend) -> None:
    suite = load_suite("orchestrator")
    result = evaluate(backend, suite, max_new_tokens=8)
    assert set(result.categories) == set(profile("orchestrator").categories)
    assert len(result.items) == len(suite.items)
    # Each item is scored on its own output with its own scorer; a category is the mean of its items.
    by_id = {item.id: item for item in suite.items}
    assert [r.id for r in result.items] == list(by_id)
    for r in result.items:
        assert r.category == by_id[r.id].category
        if by_id[r.id].scorer.type == "llm_judge":  # graded in one batch by a judge model: none given here
            assert not r.scored and "no judge model" in (r.note or "")
            continue
        assert r.score == score(r.output, by_id[r.id].scorer)
    for cat, value in result.categories.items():  # the mean of the items that could be scored
        scores = [r.score for r in result.items if r.category == cat and r.scored]
        assert value == pytest.approx(sum(scores) / len(scores) if scores else 0.0, abs=1e-5)
    assert result.overall == pytest.approx(sum(result.categories.values()) / 9, abs=1e-5)


def test_batched_generation_matches_one_by_one(backend: TransformersBackend, tiny_model: Path) -> None:
    prompts = [item.chat() for item in load_suite("reasoner").items[:4]]
    single = TransformersBackend(tiny_model, batch_size=1)
    assert backend.generate(prompts, 6) == single.generate(prompts, 6)


def test_overall_is_the_mean_of_category_means() -> None:
    def item(i: str, category: str, expected: float) -> SuiteItem:
        return SuiteItem.model_validate({"id": i, "category": category, "messages": [{"role": "user", "content": i}],
                                         "scorer": {"type": "numeric", "expected": expected}})

    # "391" is right for one math prompt out of three, and for nothing else.
    suite = Suite(name="s", items=(item("m1", "math", 391), item("m2", "math", 7), item("m3", "math", 8),
                                   item("r1", "reasoning", 1), item("n1", "non_reasoning", 2)))
    result = evaluate(Canned("391"), suite)
    assert result.categories["math"] == pytest.approx(1 / 3, abs=1e-5)
    assert result.overall == pytest.approx((1 / 3) / 3, abs=1e-5)


def test_compare_runs_both_on_the_same_prompts() -> None:
    suite = load_suite("orchestrator")
    tool_items = Suite(name="tools", items=tuple(i for i in suite.items if i.id == "tool_use-02"))
    candidate, champion = compare(
        Canned('{"name": "get_status", "arguments": {"cycle_id": "7f3a9c"}}'), Canned("no idea"), tool_items
    )
    assert [r.id for r in candidate.items] == [r.id for r in champion.items] == ["tool_use-02"]
    assert candidate.overall == 1.0 and champion.overall == 0.0


def test_openai_backend_against_a_real_http_server(backend: TransformersBackend) -> None:
    # `serve` is the CPU stand-in for vLLM's OpenAI-compatible server.
    server = serve(backend, model_name="orchestrator-v1")
    try:
        client = OpenAIBackend(server.url + "/v1", "orchestrator-v1", api_key="test", concurrency=2)
        prompts = [item.chat() for item in load_suite("coder").items[:3]]
        assert client.generate(prompts, 6) == backend.generate(prompts, 6)
        suite = Suite(name="tiny", items=load_suite("orchestrator").items[:3])
        assert evaluate(client, suite, max_new_tokens=4).suite == "tiny"
        with pytest.raises(BackendError, match="404"):
            OpenAIBackend(server.url + "/nope", "x").generate(prompts[:1], 2)
        client.close()
    finally:
        server.shutdown()
        server.server_close()
