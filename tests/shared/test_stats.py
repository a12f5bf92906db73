"""Intervals and paired tests, checked against scipy on vectors with a known difference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sp

from shared.stats import compare_scores, holm, interval, paired, sign_test


def test_sign_test_matches_scipy() -> None:
    for better, worse in [(9, 2), (3, 3), (0, 7), (14, 1), (0, 0)]:
        two, p_worse = sign_test(better, worse)
        n = better + worse
        if n:
            assert two == pytest.approx(sp.binomtest(better, n, 0.5, alternative="two-sided").pvalue)
            assert p_worse == pytest.approx(sp.binomtest(worse, n, 0.5, alternative="greater").pvalue)


def test_holm_matches_the_textbook_steps() -> None:
    adj = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adj == pytest.approx({"a": 0.03, "c": 0.06, "b": 0.06})


def test_a_known_difference_is_found_and_its_interval_covers_it() -> None:
    rng = np.random.default_rng(0)
    champion = rng.integers(0, 2, 200).astype(float)
    candidate = champion.copy()
    flip = rng.choice(np.where(champion == 0)[0], 30, replace=False)  # 30 prompts newly solved
    candidate[flip] = 1.0
    p = paired(candidate, champion)
    assert p.diff == pytest.approx(30 / 200) and p.better == 30 and p.worse == 0
    assert p.ci_low > 0.08 and p.ci_high < 0.22 and p.ci_low <= p.diff <= p.ci_high
    assert p.p_two_sided == pytest.approx(sp.binomtest(30, 30, 0.5).pvalue)
    # the bootstrap interval of a mean against scipy's bootstrap on the same data
    iv = interval(candidate)
    ref = sp.bootstrap((candidate,), np.mean, confidence_level=0.95, method="percentile",
                       random_state=1).confidence_interval
    assert iv.ci_low == pytest.approx(ref.low, abs=0.02) and iv.ci_high == pytest.approx(ref.high, abs=0.02)


def test_noise_alone_is_not_a_difference() -> None:
    rng = np.random.default_rng(1)
    champion = rng.random(15)
    candidate = champion + rng.normal(0, 0.05, 15)
    s = compare_scores({"a": candidate.tolist()}, {"a": champion.tolist()})
    assert s.overall.ci_low < 0 < s.overall.ci_high


def test_one_much_worse_category_is_significant_after_holm() -> None:
    cand, champ = {}, {}
    for i in range(8):
        champ[f"c{i}"] = [0.0] * 10 + [1.0] * 5
        cand[f"c{i}"] = [1.0] * 2 + [0.0] * 8 + [1.0] * 5  # slightly better
    champ["broken"] = [1.0] * 15
    cand["broken"] = [0.0] * 15
    s = compare_scores(cand, champ)
    assert s.paired["broken"].p_worse_holm < 0.01
    assert all(s.paired[f"c{i}"].p_worse_holm == 1.0 for i in range(8))
