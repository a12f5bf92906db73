from __future__ import annotations

from services.judge.balance import balance, quotas, target_mix
from shared.specialists import profile
from tests.judge.conftest import make


def test_target_mix_shares_the_remainder() -> None:
    mix = target_mix(profile("reasoner"), [])
    assert mix == {"non_reasoning": 0.10, "reasoning": 0.45, "math": 0.45}


def test_quotas_water_fill_and_cap() -> None:
    target = {"a": 0.5, "b": 0.25, "c": 0.25}
    assert quotas({"a": 100, "b": 100, "c": 100}, target, cap=600, total=100) == {"a": 50, "b": 25, "c": 25}
    # c is short: its share goes to a and b in proportion to their targets; a hits the cap
    assert quotas({"a": 1000, "b": 1000, "c": 5}, target, cap=60, total=120) == {"a": 60, "b": 55, "c": 5}


def test_balance_prefers_weighted_generators_and_reports_why() -> None:
    prof = profile("reasoner")
    examples = [make(f"math answer {i}", category="math", generator="teacher" if i % 2 else "synth")
                for i in range(100)]
    examples += [make(f"reasoning answer {i}", category="reasoning") for i in range(3)]
    kept, cut, mix = balance(examples, profile=prof, cap=40, max_examples=None, generator_weights={"teacher": 1.3})
    assert {e.generator for e in kept if e.category == "math"} == {"teacher"}
    assert len(kept) == 43 and len(cut) == 60
    assert mix["math"].note == "took the share other categories could not fill"
    assert mix["reasoning"].note == "not enough examples (have 3, target 19)"
    assert mix["non_reasoning"].note == "no examples"
    assert (mix["reasoning"].target, mix["reasoning"].reached) == (0.45, round(3 / 43, 4))
    again, _, _ = balance(list(reversed(examples)), profile=prof, cap=40, max_examples=None,
                          generator_weights={"teacher": 1.3})
    assert again == kept  # deterministic whatever the input order


def test_max_examples_enforces_the_mix() -> None:
    prof = profile("reasoner")
    examples = [make(f"{c} answer {i}", category=c) for c in ("math", "reasoning", "non_reasoning") for i in range(50)]
    kept, _, mix = balance(examples, profile=prof, cap=600, max_examples=20, generator_weights={})
    assert {c: m.kept for c, m in mix.items()} == {"math": 9, "non_reasoning": 2, "reasoning": 9}
    assert all(m.note == "at target" for m in mix.values())
