"""The score table `ouro cycle --wait` prints: per category the delta, n and the paired interval."""

from __future__ import annotations

from ouro.cycle import CycleOutcome, score_table
from shared.events import EvalCompleted
from shared.stats import compare_scores


def test_the_table_has_delta_n_and_interval() -> None:
    cand = {"math": [1.0, 1.0, 0.0, 1.0, 1.0, 0.0], "review": [0.0, 1.0, 0.0]}
    champ = {"math": [0.0, 1.0, 0.0, 0.0, 1.0, 0.0], "review": [0.0, 1.0, 1.0]}
    stats = compare_scores(cand, champ, 0.95)
    means = {c: sum(v) / len(v) for c, v in cand.items()}
    champ_means = {c: sum(v) / len(v) for c, v in champ.items()}
    ev = EvalCompleted(cycle_id="c", specialist="coder", checkpoint_id="k", suite="coder", prompts=9, candidate=means,
                       candidate_overall=0.5, champion_id=None, champion=champ_means, champion_overall=0.5,
                       stats=stats)
    outcome = CycleOutcome(cycle_id="c", decision="rejected", overall=0.5, categories=means, champion_overall=0.5,
                           champion=champ_means, events=[ev])
    header, math, review, overall = score_table(outcome).splitlines()
    assert header.split()[:5] == ["category", "champion", "candidate", "delta", "n"] and "95% interval" in header
    p = stats.paired["math"]
    assert math.split()[:5] == ["math", "0.333", "0.667", "+0.333", "6"]
    assert math.endswith(f"[{p.ci_low:+.3f}, {p.ci_high:+.3f}]")
    assert review.split()[3:5] == ["-0.333", "3"] and overall.split()[3:5] == ["+0.000", "9"]
