"""A suite result says how long its evaluation took, and names its suite and items in order."""

from __future__ import annotations

import time

from services.evaluator.evaluate import evaluate
from services.evaluator.suites import load_suite


class Slow:
    """Answers every prompt with the same text, taking `seconds` for the batch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def generate(self, prompts: list[list[dict[str, str]]], max_new_tokens: int) -> list[str]:
        time.sleep(self.seconds)
        return ["391"] * len(prompts)


def test_duration_is_the_time_the_evaluation_took() -> None:
    suite = load_suite("reasoner")
    result = evaluate(Slow(0.3), suite)
    assert 0.3 <= result.duration_s < 5.0
    assert result.suite == suite.name and [r.id for r in result.items] == [i.id for i in suite.items]
