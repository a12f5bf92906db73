"""The gate relative to the base model (what the shipped 135M configuration uses), forgetting
measured against the base as well as the champion, and rejections that name each failing gate,
by how much, and the setting that decides it."""

from __future__ import annotations

import numpy as np

from services.promoter.policy import Policy, decide
from shared.specialists import profile
from shared.stats import compare_scores, paired

RELATIVE = Policy(gate="relative", min_over_base=0.05, min_overall=0.0, min_category=0.0, must_beat_champion=True)


def _means(scores: dict[str, list[float]]) -> tuple[dict[str, float], float]:
    cats = {c: float(np.mean(v)) for c, v in scores.items()}
    return cats, float(np.mean(list(cats.values())))


def _first_cycle(policy: Policy, cand: dict[str, list[float]], base: dict[str, list[float]], **kw):  # noqa: ANN003, ANN202
    """The champion is the bare base model: the same scores are the champion's and the base's."""
    c, co = _means(cand)
    b, bo = _means(base)
    stats = compare_scores(cand, base)
    return decide(policy, c, co, b, bo, stats=stats, base_overall=bo, vs_base=stats.overall, **kw)


# A 135M-like base: low scores everywhere (0.1 overall), 9 categories x 15 prompts.
BASE = {f"c{i}": [1.0] * 1 + [0.0] * 14 if i % 3 else [1.0] * 3 + [0.0] * 12 for i in range(9)}


def test_a_better_candidate_is_promoted_though_far_under_the_absolute_bar() -> None:
    cand = {c: [1.0] * (int(sum(v)) + 4) + [0.0] * (15 - int(sum(v)) - 4) for c, v in BASE.items()}
    d = _first_cycle(RELATIVE, cand, BASE)
    assert d.promote, d.reasons
    assert any("base" in r and "+ 0.05" in r for r in d.reasons)
    # the same candidate under the reference deployment's absolute bar is rejected, naming the key
    absolute = Policy(min_overall=0.70, min_category=0.30)
    d = _first_cycle(absolute, cand, BASE)
    assert not d.promote and any(r.endswith("(promotion.min_overall)") for r in d.reasons)


def test_a_candidate_that_is_not_better_than_the_base_is_rejected() -> None:
    d = _first_cycle(RELATIVE, BASE, BASE)  # equal to the base
    assert not d.promote and not d.inconclusive
    assert any(r.startswith("overall 0.111 < base 0.111 + 0.05 = 0.161 by 0.050 (promotion.min_over_base)")
               for r in d.reasons), d.reasons
    # two prompts more in one category: +0.015 overall, under base + 0.05 however it is measured
    cand = dict(BASE) | {"c1": [1.0] * 3 + [0.0] * 12}
    d = _first_cycle(RELATIVE, cand, BASE)
    assert not d.promote and any("(promotion.min_over_base)" in r for r in d.reasons)


def test_above_base_plus_margin_but_within_noise_is_inconclusive() -> None:
    # in every category the candidate wins 5 prompts and loses 4: +0.067 on average, clearing
    # base + 0.05, but with an interval that straddles 0
    base = {f"c{i}": [1.0] * 5 + [0.0] * 10 for i in range(9)}
    cand = {f"c{i}": [0.0] * 4 + [1.0] * 6 + [0.0] * 5 for i in range(9)}
    d = _first_cycle(RELATIVE, cand, base)
    assert not d.promote and d.inconclusive, d.reasons
    assert all(r.startswith("inconclusive") for r in d.reasons)


def test_without_the_base_models_scores_the_relative_gate_refuses() -> None:
    d = decide(RELATIVE, {"a": 1.0}, 1.0, {"a": 0.0}, 0.0)
    assert not d.promote and "promotion.gate" in d.reasons[0]


def test_forgetting_is_measured_against_the_base_and_the_champion_naming_which() -> None:
    cand = {c: [1.0] * 10 + [0.0] * 5 for c in BASE}
    general_base = [1.0] * 50 + [0.0] * 30
    ok = paired(general_base, general_base)
    dropped = paired([1.0] * 42 + [0.0] * 38, general_base)  # 10 points under the base
    d = _first_cycle(RELATIVE, cand, BASE, general=ok, general_base=dropped)
    assert not d.promote
    (forgot,) = [r for r in d.reasons if r.startswith("forgets")]
    assert forgot.startswith("forgets vs the base model: the general held-out set dropped -0.100")
    assert "0.080 more than the forgetting margin 0.02 (OURO_PROMOTER_FORGETTING_MARGIN)" in forgot
    d = _first_cycle(RELATIVE, cand, BASE, general=dropped, general_base=ok)
    assert [r for r in d.reasons if r.startswith("forgets")][0].startswith("forgets vs the champion:")
    assert _first_cycle(RELATIVE, cand, BASE, general=ok, general_base=ok).promote


def test_each_failing_gate_is_named_with_its_setting() -> None:
    strict = Policy(gate="relative", min_over_base=0.05, min_overall=0.70, min_category=0.30)
    cand = {c: [1.0] * 2 + [0.0] * 13 for c in BASE} | {"c0": [0.0] * 15}
    d = _first_cycle(strict, cand, BASE, general=paired([0.0] * 20, [1.0] * 20))
    keys = ["promotion.min_overall", "promotion.min_over_base", "promotion.min_category",
            "OURO_PROMOTER_FORGETTING_MARGIN", "promotion.must_beat_champion"]
    for key in keys:
        assert any(key in r for r in d.reasons), (key, d.reasons)
    assert not d.promote and "c0" in d.weak_categories


def test_the_shipped_specialists_use_the_relative_gate() -> None:
    for name in ("orchestrator", "coder", "reasoner"):
        p = profile(name)
        assert (p.gate, p.min_over_base, p.min_overall, p.min_category) == ("relative", 0.05, 0.0, 0.0)


def test_a_gain_on_a_handful_of_prompts_is_inconclusive_however_tight_the_bootstrap() -> None:
    # The learning benchmark's shape at 2 prompts per category: two categories go from 0 to 1 on both
    # of their prompts, one prompt elsewhere gets worse. Resampling within 2-prompt categories never
    # loses those gains, so the bootstrap interval is above 0 ...
    base = {f"c{i}": [0.0, 0.0] for i in range(9)} | {"c8": [1.0, 0.0]}
    cand = dict(base) | {"c0": [1.0, 1.0], "c1": [1.0, 1.0], "c8": [0.0, 0.0]}
    stats = compare_scores(cand, base)
    assert stats.overall.ci_low > 0 and (stats.overall.better, stats.overall.worse) == (4, 1)
    d = _first_cycle(RELATIVE, cand, base)
    # ... but 4 better and 1 worse is p = 0.375 by the exact sign test: not promoted, inconclusive
    assert not d.promote and d.inconclusive
    assert any("4 prompts better and 1 worse" in r and "OURO_PROMOTER_ALPHA" in r for r in d.reasons), d.reasons


def test_a_gain_on_two_prompts_while_nine_got_worse_is_not_promoted() -> None:
    # one small category gains a lot, three others lose a little on every prompt: the mean and its
    # within-category bootstrap say "better", the prompts do not
    base = {"arch": [0.0, 0.0], "a": [0.5] * 3, "b": [0.5] * 3, "c": [0.5] * 3}
    cand = {"arch": [1.0, 1.0], "a": [0.45] * 3, "b": [0.45] * 3, "c": [0.45] * 3}
    stats = compare_scores(cand, base)
    assert stats.overall.ci_low > 0 and (stats.overall.better, stats.overall.worse) == (2, 9)
    d = _first_cycle(RELATIVE, cand, base)
    assert not d.promote and d.inconclusive
    assert any("2 prompts better and 9 worse" in r for r in d.reasons), d.reasons
