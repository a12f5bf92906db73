"""The promoter's core, pure functions: scores (and who the champion is now) in, decision out.

Promote only when every gate holds:
- the bar: `absolute` (overall >= `min_overall`) or `relative` to the base model (overall >= the
  base's overall + `min_over_base`, and the paired interval of candidate − base above 0);
- no category under the floor `min_category`;
- better than the champion: the paired interval of candidate − champion above the margin (an
  interval that straddles it is *inconclusive*, which never promotes), and the exact sign test over
  the prompts that changed agreeing (below `alpha`): on a small suite the bootstrap alone is
  overconfident, and "3 better, 1 worse" is not evidence;
- no category significantly worse than the champion (Holm-adjusted sign test);
- no forgetting: the general held-out set dropped by at most `forgetting_margin`, both against
  the champion and against the base model.
A rejection names each failing gate, by how much, and the setting that decides it. The
categories below their floor or significantly worse go back to the harvester, so the next cycle
mines more of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from shared.events import EvalCompleted, ModelPromoted, ModelRejected, derived_id
from shared.specialists import Profile
from shared.stats import EvalStats, Paired

# The setting behind each gate, as a rejection names it: the specialist file's key (its env
# override is OURO_PROMOTER_<NAME>), or the promoter's env var for the promoter-wide ones.
KEYS = {
    "min_overall": "promotion.min_overall",
    "min_over_base": "promotion.min_over_base",
    "gate": "promotion.gate",
    "min_category": "promotion.min_category",
    "must_beat_champion": "promotion.must_beat_champion",
    "margin": "OURO_PROMOTER_MARGIN",
    "alpha": "OURO_PROMOTER_ALPHA",
    "forgetting_margin": "OURO_PROMOTER_FORGETTING_MARGIN",
}


@dataclass(frozen=True)
class Policy:
    min_overall: float = 0.70
    min_category: float = 0.30
    must_beat_champion: bool = True
    margin: float = 0.0  # how much better than the champion counts as better
    # with the evaluator's paired statistics: a category is "significantly worse" below this
    # Holm-adjusted p; "better" means the paired interval of the overall difference is above margin
    alpha: float = 0.05
    # the general held-out set may drop by at most this much against the champion and the base
    forgetting_margin: float = 0.02
    # absolute: overall >= min_overall; relative: also overall >= base overall + min_over_base with
    # the paired interval of candidate − base above 0
    gate: Literal["absolute", "relative"] = "absolute"
    min_over_base: float = 0.05

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: float | bool | str | None) -> Policy:
        values = {
            "min_overall": profile.min_overall,
            "min_category": profile.min_category,
            "must_beat_champion": profile.must_beat_champion,
            "gate": getattr(profile, "gate", "absolute"),
            "min_over_base": getattr(profile, "min_over_base", 0.05),
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: tuple[str, ...]
    weak_categories: tuple[str, ...]
    inconclusive: bool = False  # the suite cannot tell yet: never promotes


def _interval(p: Paired, confidence: float) -> str:
    return (f"paired difference {p.diff:+.3f}, {100 * confidence:.0f}% interval "
            f"{p.ci_low:+.3f}..{p.ci_high:+.3f}, n={p.n}")


def _too_few_changed(p: Paired, policy: Policy) -> str | None:
    """A bootstrap interval over a handful of prompts is overconfident (a 2-prompt category
    resampled can never lose its gain). "Better" also needs the exact sign test over the prompts
    whose score changed: with 3 better and 1 worse it is p = 0.62, not evidence."""
    if p.better > p.worse and p.p_two_sided < policy.alpha:
        return None
    if p.better <= p.worse:  # the mean rose on a few prompts while as many or more got worse
        return (f"{p.better} prompts better and {p.worse} worse: the gain rests on a few prompts while as many "
                f"or more got worse (exact sign test, {KEYS['alpha']})")
    return (f"{p.better} prompts better and {p.worse} worse: the exact sign test gives p = {p.p_two_sided:.3g}, "
            f"not below {policy.alpha} ({KEYS['alpha']})")


def _forgets(general: Paired | None, reference: str, policy: Policy) -> str | None:
    if general is None or general.diff >= -policy.forgetting_margin:
        return None
    by = -general.diff - policy.forgetting_margin
    return (f"forgets vs the {reference}: the general held-out set dropped {general.diff:+.3f} (interval "
            f"{general.ci_low:+.3f}..{general.ci_high:+.3f}, n={general.n}), {by:.3f} more than the "
            f"forgetting margin {policy.forgetting_margin:.2f} ({KEYS['forgetting_margin']})")


def decide(
    policy: Policy,
    candidate: dict[str, float],
    candidate_overall: float,
    champion: dict[str, float],
    champion_overall: float,
    stats: EvalStats | None = None,
    general: Paired | None = None,
    *,
    base_overall: float | None = None,
    vs_base: Paired | None = None,
    general_base: Paired | None = None,
) -> Decision:
    """Promote only when every gate holds. With `stats` (paired, same prompts) "beats the champion"
    is a confident statement: its interval is above the margin; an interval that straddles it is
    inconclusive. `general` / `general_base`: candidate − champion / − base on the general held-out
    set; a drop larger than the forgetting margin rejects, naming the reference. `base_overall` and
    `vs_base` (candidate − base on the suite, paired) are what the relative gate reads."""
    if not candidate:
        return Decision(False, ("no category was scored",), ())
    confidence = stats.confidence if stats is not None else 0.95
    reasons: list[str] = []
    passed: list[str] = []
    inconclusive = False  # some gate could not tell yet
    if candidate_overall < policy.min_overall:
        reasons.append(f"overall {candidate_overall:.3f} < {policy.min_overall:.2f} by "
                       f"{policy.min_overall - candidate_overall:.3f} ({KEYS['min_overall']})")
    elif policy.min_overall > 0:
        passed.append(f"overall {candidate_overall:.3f} >= {policy.min_overall:.2f}")
    if policy.gate == "relative":
        if base_overall is None or vs_base is None:
            reasons.append(f"the relative gate ({KEYS['gate']}: relative) needs the base model's scores on the "
                           "suite, and this evaluation has none")
        else:
            bar = base_overall + policy.min_over_base
            if candidate_overall < bar:
                reasons.append(f"overall {candidate_overall:.3f} < base {base_overall:.3f} + "
                               f"{policy.min_over_base:.2f} = {bar:.3f} by {bar - candidate_overall:.3f} "
                               f"({KEYS['min_over_base']})")
            if vs_base.ci_high <= 0:
                reasons.append(f"not better than the base model: {_interval(vs_base, confidence)}; the interval "
                               f"must be above 0 ({KEYS['gate']}: relative)")
            elif vs_base.ci_low <= 0:
                inconclusive = True
                reasons.append(f"inconclusive: cannot tell it from the base model yet ({_interval(vs_base, confidence)}"
                               f"; {KEYS['gate']}: relative needs the interval above 0)")
            elif few := _too_few_changed(vs_base, policy):
                inconclusive = True
                reasons.append(f"inconclusive: cannot tell it from the base model yet ({few})")
            if not reasons:
                passed.append(f"overall {candidate_overall:.3f} >= base {base_overall:.3f} + "
                              f"{policy.min_over_base:.2f}, {_interval(vs_base, confidence)}")
    floor = sorted(c for c, s in candidate.items() if s < policy.min_category)
    if floor:
        reasons.append(
            f"below the category floor {policy.min_category:.2f} ({KEYS['min_category']}): "
            + ", ".join(f"{c}={candidate[c]:.2f} (by {policy.min_category - candidate[c]:.3f})" for c in floor)
        )
    worse: list[str] = []
    if stats is not None:
        worse = sorted(c for c, p in stats.paired.items() if p.p_worse_holm < policy.alpha)
        if worse:
            named = ", ".join(f"{c} {stats.paired[c].diff:+.3f} (p={stats.paired[c].p_worse_holm:.3g})" for c in worse)
            reasons.append(f"significantly worse than the champion (Holm-adjusted sign test, alpha {policy.alpha}, "
                           f"{KEYS['alpha']}): {named}")
    references = [("champion", general), ("base model", general_base)]
    if general_base is not None and general_base == general:  # the base model is the champion
        references = [("base model (the champion)", general)]
    for reference, figures in references:
        forgot = _forgets(figures, reference, policy)
        if forgot:
            reasons.append(forgot)
    if policy.must_beat_champion:
        if stats is None:
            if candidate_overall <= champion_overall + policy.margin:
                reasons.append(f"does not beat the champion: {candidate_overall:.3f} <= {champion_overall:.3f}"
                               + (f" + margin {policy.margin:.2f}" if policy.margin else "")
                               + f" ({KEYS['must_beat_champion']})")
            else:
                passed.append(f"beats the champion: {candidate_overall:.3f} > {champion_overall:.3f}")
        else:
            o = stats.overall
            where = f"{_interval(o, confidence)}; needs the interval above {policy.margin:.2f}, " \
                    f"{KEYS['must_beat_champion']}, {KEYS['margin']}"
            if o.ci_high <= policy.margin:
                reasons.append(f"does not beat the champion: {where}")
            elif o.ci_low <= policy.margin:
                inconclusive = True
                reasons.append(f"inconclusive: cannot tell it from the champion yet ({where})")
            elif few := _too_few_changed(o, policy):
                inconclusive = True
                reasons.append(f"inconclusive: cannot tell it from the champion yet ({few})")
            else:
                passed.append(f"beats the champion {champion_overall:.3f}: {_interval(o, confidence)}")
    # Feedback: the categories that held it back (under the floor, or significantly worse). Weakest first.
    weak = sorted(set(floor) | set(worse), key=lambda c: (candidate[c], c))
    if reasons:
        # inconclusive only when nothing failed outright: every reason is an interval that straddles its bar
        undecided = inconclusive and all(r.startswith("inconclusive") for r in reasons)
        return Decision(False, tuple(reasons), tuple(weak), inconclusive=undecided)
    if not policy.must_beat_champion:
        passed.append(f"not required to beat the champion ({KEYS['must_beat_champion']}: false)")
    return Decision(True, tuple(passed), tuple(weak))


@dataclass(frozen=True)
class Outcome:
    """What to do with one evaluation, given who the champion is now."""

    promote: bool
    reasons: tuple[str, ...]
    weak_categories: tuple[str, ...]
    previous_champion: str | None
    resumed: bool  # this checkpoint is champion already: a promotion interrupted before it was recorded
    inconclusive: bool = False


def settle(policy: Policy, event: EvalCompleted, current_champion: str | None) -> Outcome:
    """The decision for `event`, given the champion the registry holds now.

    A checkpoint that is champion already was promoted by us before a crash: finish that promotion
    instead of judging it against itself. A promotion measured against a champion that has since
    changed is refused: the comparison no longer holds.
    """
    d = decide(policy, event.candidate, event.candidate_overall, event.champion, event.champion_overall,
               stats=event.stats, general=event.general, base_overall=event.base_overall, vs_base=event.vs_base,
               general_base=event.general_base)
    if current_champion == event.checkpoint_id:
        return Outcome(True, (*d.reasons, "resumed an interrupted promotion"), d.weak_categories,
                       event.champion_id, resumed=True)
    if d.promote and current_champion != event.champion_id:
        reason = f"champion changed from {event.champion_id} to {current_champion} during evaluation"
        return Outcome(False, (reason,), d.weak_categories, current_champion, resumed=False)
    return Outcome(d.promote, d.reasons, d.weak_categories, current_champion, resumed=False,
                   inconclusive=d.inconclusive)


def announcement(event: EvalCompleted, outcome: Outcome) -> ModelPromoted | ModelRejected:
    """The event that says what was decided, under an id derived from (cycle, checkpoint)."""
    common = dict(
        event_id=derived_id("decision", event.cycle_id, event.checkpoint_id),
        cycle_id=event.cycle_id,
        specialist=event.specialist,
        checkpoint_id=event.checkpoint_id,
        overall=event.candidate_overall,
        categories=event.candidate,
        reasons=outcome.reasons,
    )
    if outcome.promote:
        return ModelPromoted(previous_champion=outcome.previous_champion, **common)
    return ModelRejected(weak_categories=outcome.weak_categories, inconclusive=outcome.inconclusive, **common)
