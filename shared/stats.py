"""Scores with their uncertainty, and candidate-vs-champion compared on the same prompts.

- a category's mean with a 95% percentile-bootstrap interval over its prompts, and n;
- the paired difference (candidate − champion, prompt by prompt): its bootstrap interval and an
  exact two-sided sign test (ties dropped), overall and per category;
- "no category got worse": one-sided sign tests, Holm-corrected across the categories.

Pure numpy, seeded: the same scores give the same intervals. The models travel in
`eval.completed` (shared/events.py), so the promoter decides on intervals, not on two means.
The overall score is the mean of the category means, so the overall bootstrap resamples prompts
within each category.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    import numpy as np

B = 2000  # bootstrap resamples
SEED = 20261201


class Interval(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    mean: float
    ci_low: float
    ci_high: float
    n: int


class Paired(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    diff: float  # candidate − champion
    ci_low: float
    ci_high: float
    n: int
    better: int  # prompts where the candidate scored higher
    worse: int
    p_two_sided: float  # exact sign test
    p_worse: float  # one-sided: the candidate is worse
    p_worse_holm: float = 1.0  # Holm-adjusted across categories


class EvalStats(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    confidence: float
    candidate: dict[str, Interval]
    champion: dict[str, Interval]
    paired: dict[str, Paired]
    overall: Paired


def _binom_tail(k: int, n: int) -> float:
    """P(X >= k) for X ~ Binomial(n, 1/2), exactly."""
    return sum(math.comb(n, i) for i in range(k, n + 1)) / 2**n if n else 1.0


def sign_test(better: int, worse: int) -> tuple[float, float]:
    """(two-sided p, one-sided p that the candidate is worse) of the exact sign test."""
    n = better + worse
    if n == 0:
        return 1.0, 1.0
    p_worse = _binom_tail(worse, n)
    two = min(1.0, 2 * min(_binom_tail(better, n), p_worse))
    return two, p_worse


def holm(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Holm–Bonferroni adjusted p-values (monotone, capped at 1)."""
    order = sorted(pvalues, key=lambda k: pvalues[k])
    m, running, out = len(order), 0.0, {}
    for i, key in enumerate(order):
        running = max(running, min(1.0, (m - i) * pvalues[key]))
        out[key] = running
    return out


def interval(scores: Sequence[float], confidence: float = 0.95, rng: np.random.Generator | None = None) -> Interval:
    import numpy as np  # lazily: the event contract imports these models, emitters should not pay for numpy
    x = np.asarray(scores, dtype=float)
    if x.size == 0:
        return Interval(mean=0.0, ci_low=0.0, ci_high=0.0, n=0)
    rng = rng or np.random.default_rng(SEED)
    means = x[rng.integers(0, x.size, size=(B, x.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Interval(mean=round(float(x.mean()), 6), ci_low=round(float(lo), 6), ci_high=round(float(hi), 6),
                    n=int(x.size))


def paired(candidate: Sequence[float], champion: Sequence[float], confidence: float = 0.95,
           rng: np.random.Generator | None = None) -> Paired:
    import numpy as np  # lazily: the event contract imports these models, emitters should not pay for numpy
    c, h = np.asarray(candidate, dtype=float), np.asarray(champion, dtype=float)
    if c.shape != h.shape:
        raise ValueError(f"paired scores need the same prompts: {c.size} vs {h.size}")
    d = c - h
    better, worse = int((d > 0).sum()), int((d < 0).sum())
    two, p_worse = sign_test(better, worse)
    if d.size == 0:
        return Paired(diff=0.0, ci_low=0.0, ci_high=0.0, n=0, better=0, worse=0, p_two_sided=1.0, p_worse=1.0)
    rng = rng or np.random.default_rng(SEED)
    means = d[rng.integers(0, d.size, size=(B, d.size))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return Paired(diff=round(float(d.mean()), 6), ci_low=round(float(lo), 6), ci_high=round(float(hi), 6),
                  n=int(d.size), better=better, worse=worse, p_two_sided=two, p_worse=p_worse)


def compare_scores(candidate: Mapping[str, Sequence[float]], champion: Mapping[str, Sequence[float]],
                   confidence: float = 0.95) -> EvalStats:
    """Per category (scores in the same prompt order for both models) and overall (the mean of
    the category means, bootstrapped by resampling prompts within each category)."""
    import numpy as np  # lazily: the event contract imports these models, emitters should not pay for numpy

    rng = np.random.default_rng(SEED)
    cats = sorted(candidate)
    per = {c: paired(candidate[c], champion[c], confidence, rng) for c in cats}
    adjusted = holm({c: p.p_worse for c, p in per.items()})
    per = {c: p.model_copy(update={"p_worse_holm": adjusted[c]}) for c, p in per.items()}
    # overall: mean over categories of the within-category mean difference
    diffs = [np.asarray(candidate[c], dtype=float) - np.asarray(champion[c], dtype=float)
             for c in cats if len(candidate[c])]
    boot = np.zeros(B)
    for d in diffs:
        boot += d[rng.integers(0, d.size, size=(B, d.size))].mean(axis=1)
    boot /= max(1, len(diffs))
    lo, hi = np.quantile(boot, [(1 - confidence) / 2, (1 + confidence) / 2]) if diffs else (0.0, 0.0)
    all_d = np.concatenate(diffs) if diffs else np.zeros(0)
    better, worse = int((all_d > 0).sum()), int((all_d < 0).sum())
    two, p_worse = sign_test(better, worse)
    overall = Paired(diff=round(float(np.mean([d.mean() for d in diffs])) if diffs else 0.0, 6),
                     ci_low=round(float(lo), 6), ci_high=round(float(hi), 6), n=int(all_d.size), better=better,
                     worse=worse, p_two_sided=two, p_worse=p_worse)
    return EvalStats(
        confidence=confidence,
        candidate={c: interval(candidate[c], confidence, rng) for c in cats},
        champion={c: interval(champion[c], confidence, rng) for c in cats},
        paired=per, overall=overall,
    )
