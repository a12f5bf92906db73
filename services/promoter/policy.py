"""The promoter's core, pure functions: scores (and who the champion is now) in, decision out.

Promote only when the candidate clears the overall bar, no category falls under the floor,
and it beats the champion on the same prompts. The categories that held it back go back to
the harvester, so the next cycle mines more of them.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.events import EvalCompleted, ModelPromoted, ModelRejected, derived_id
from shared.specialists import Profile
from shared.stats import EvalStats, Paired


@dataclass(frozen=True)
class Policy:
    min_overall: float = 0.70
    min_category: float = 0.30
    must_beat_champion: bool = True
    margin: float = 0.0  # how much better than the champion counts as better
    # with the evaluator's paired statistics: a category is "significantly worse" below this
    # Holm-adjusted p; "better" means the paired interval of the overall difference is above margin
    alpha: float = 0.05
    # the general held-out set may drop by at most this much against the champion (forgetting)
    forgetting_margin: float = 0.02

    @classmethod
    def from_profile(cls, profile: Profile, **overrides: float | bool | None) -> Policy:
        values = {
            "min_overall": profile.min_overall,
            "min_category": profile.min_category,
            "must_beat_champion": profile.must_beat_champion,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Decision:
    promote: bool
    reasons: tuple[str, ...]
    weak_categories: tuple[str, ...]
    inconclusive: bool = False  # the suite cannot tell yet: never promotes


def decide(
    policy: Policy,
    candidate: dict[str, float],
    candidate_overall: float,
    champion: dict[str, float],
    champion_overall: float,
    stats: EvalStats | None = None,
    general: Paired | None = None,
) -> Decision:
    """Promote only when every gate holds. With `stats` (paired, same prompts) "beats the champion"
    is a confident statement: its interval is above the margin; an interval that straddles it is
    inconclusive. With `general` (candidate − champion on the general held-out set), a drop larger
    than the forgetting margin rejects."""
    if not candidate:
        return Decision(False, ("no category was scored",), ())
    reasons: list[str] = []
    inconclusive = False
    if candidate_overall < policy.min_overall:
        reasons.append(f"overall {candidate_overall:.3f} < {policy.min_overall:.2f}")
    floor = sorted(c for c, s in candidate.items() if s < policy.min_category)
    if floor:
        reasons.append(
            "below the category floor "
            f"{policy.min_category:.2f}: " + ", ".join(f"{c}={candidate[c]:.2f}" for c in floor)
        )
    if stats is not None:
        worse = sorted(c for c, p in stats.paired.items() if p.p_worse_holm < policy.alpha)
        if worse:
            named = ", ".join(f"{c} {stats.paired[c].diff:+.3f} (p={stats.paired[c].p_worse_holm:.3g})" for c in worse)
            reasons.append(f"significantly worse than the champion (Holm-adjusted sign test, alpha {policy.alpha}): "
                           f"{named}")
    if general is not None and general.diff < -policy.forgetting_margin:
        reasons.append(f"forgets: the general held-out set dropped {general.diff:+.3f} "
                       f"(interval {general.ci_low:+.3f}..{general.ci_high:+.3f}, n={general.n}), more than "
                       f"the forgetting margin {policy.forgetting_margin:.2f}")
    if policy.must_beat_champion:
        if stats is None:
            if candidate_overall <= champion_overall + policy.margin:
                reasons.append(f"does not beat the champion: {candidate_overall:.3f} <= {champion_overall:.3f}")
        else:
            o = stats.overall
            where = f"paired difference {o.diff:+.3f}, {100 * stats.confidence:.0f}% interval " \
                    f"{o.ci_low:+.3f}..{o.ci_high:+.3f}, n={o.n}"
            if o.ci_high <= policy.margin:
                reasons.append(f"does not beat the champion: {where}")
            elif o.ci_low <= policy.margin:
                inconclusive = True
                reasons.append(f"inconclusive: cannot tell it from the champion yet ({where})")
    # Weak: under the bar we promote at, or worse than the champion there. Weakest first.
    weak = sorted(
        (c for c, s in candidate.items() if s < policy.min_overall or s < champion.get(c, 0.0)),
        key=lambda c: (candidate[c], c),
    )
    if reasons:
        return Decision(False, tuple(reasons), tuple(weak), inconclusive=inconclusive and len(reasons) == 1)
    return Decision(
        True,
        (f"overall {candidate_overall:.3f} >= {policy.min_overall:.2f}, beats champion {champion_overall:.3f}",),
        tuple(weak),
    )


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
               stats=event.stats, general=event.general)
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
