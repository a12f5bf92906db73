"""The gate decides on paired statistics: noise is not an improvement (inconclusive, never
promoted), one much worse category rejects by name, forgetting rejects, a real gain promotes."""

from __future__ import annotations

import numpy as np

from services.promoter.policy import Policy, decide
from shared.stats import compare_scores, paired

GATE = Policy(min_overall=0.0, min_category=0.0, must_beat_champion=True, margin=0.0)


def _means(scores: dict[str, list[float]]) -> tuple[dict[str, float], float]:
    cats = {c: float(np.mean(v)) for c, v in scores.items()}
    return cats, float(np.mean(list(cats.values())))


def _decide(cand: dict[str, list[float]], champ: dict[str, list[float]], general=None):  # noqa: ANN001, ANN202
    c, co = _means(cand)
    h, ho = _means(champ)
    return decide(GATE, c, co, h, ho, stats=compare_scores(cand, champ), general=general)


def test_champion_plus_noise_is_not_promoted() -> None:
    rng = np.random.default_rng(3)
    champ = {f"c{i}": rng.random(15).tolist() for i in range(9)}
    cand = {c: (np.clip(np.asarray(v) + rng.normal(0.0, 0.05, 15), 0, 1)).tolist() for c, v in champ.items()}
    d = _decide(cand, champ)
    assert not d.promote and d.inconclusive and "inconclusive" in d.reasons[0]


def test_better_on_eight_much_worse_on_one_is_rejected_naming_it() -> None:
    champ = {f"c{i}": [0.0] * 8 + [1.0] * 7 for i in range(8)} | {"tool_use": [1.0] * 15}
    cand = {f"c{i}": [1.0] * 4 + [0.0] * 4 + [1.0] * 7 for i in range(8)} | {"tool_use": [0.0] * 15}
    d = _decide(cand, champ)
    assert not d.promote and not d.inconclusive
    assert any("significantly worse" in r and "tool_use" in r for r in d.reasons)


def test_losing_ten_points_on_the_general_set_is_forgetting() -> None:
    champ = {f"c{i}": [0.0] * 10 + [1.0] * 5 for i in range(9)}
    cand = {f"c{i}": [1.0] * 15 for i in range(9)}  # much better on its own suite ...
    general_champ = [1.0] * 50 + [0.0] * 30
    general_cand = [1.0] * 42 + [0.0] * 38  # ... but 10 points worse on the general set
    d = _decide(cand, champ, general=paired(general_cand, general_champ))
    assert not d.promote and any(r.startswith("forgets") for r in d.reasons)
    assert _decide(cand, champ, general=paired(general_champ, general_champ)).promote


def test_a_clear_gain_promotes() -> None:
    champ = {f"c{i}": [0.0] * 10 + [1.0] * 5 for i in range(9)}
    cand = {f"c{i}": [1.0] * 6 + [0.0] * 4 + [1.0] * 5 for i in range(9)}
    d = _decide(cand, champ)
    assert d.promote, d.reasons
