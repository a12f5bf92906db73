"""The promotion policy at its edges: the exact thresholds, the margin, the profile's values and
the operator's overrides. A candidate is promoted only when every rule holds, and an
off-by-one in any comparison (`<` for `<=`) flips one of these decisions."""

from __future__ import annotations

from types import SimpleNamespace

from services.promoter.policy import Decision, Policy, decide, settle
from shared.events import EvalCompleted

POLICY = Policy(min_overall=0.70, min_category=0.30, must_beat_champion=True)


def test_nothing_scored_is_never_promoted() -> None:
    assert decide(POLICY, {}, 1.0, {}, 0.0) == Decision(False, ("no category was scored",), ())


def test_exactly_at_the_bars_is_promoted() -> None:
    d = decide(POLICY, {"a": 0.30, "b": 0.70, "c": 1.0}, 0.70, {"b": 0.70}, 0.5)
    assert d.promote, d.reasons
    # `a` sits exactly on the floor: not weak
    assert d.weak_categories == ()


def test_just_under_the_bars_is_rejected() -> None:
    assert not decide(POLICY, {"a": 0.9}, 0.6999, {}, 0.0).promote
    d = decide(POLICY, {"a": 0.2999, "b": 1.0}, 0.8, {}, 0.0)
    assert not d.promote and d.reasons == ("below the category floor 0.30 (promotion.min_category): a=0.30 (by 0.000)",)


def test_a_tie_with_the_champion_is_not_better() -> None:
    d = decide(POLICY, {"a": 0.8}, 0.8, {"a": 0.8}, 0.8)
    assert not d.promote
    assert d.reasons == ("does not beat the champion: 0.800 <= 0.800 (promotion.must_beat_champion)",)
    assert d.weak_categories == ()  # equal to the champion there is not worse


def test_the_margin_is_added_to_the_champion() -> None:
    policy = Policy(min_overall=0.5, min_category=0.0, must_beat_champion=True, margin=0.1)
    assert not decide(policy, {"a": 0.75}, 0.75, {}, 0.7).promote  # better, but not by the margin
    assert decide(policy, {"a": 0.85}, 0.85, {}, 0.7).promote


def test_weak_categories_leave_out_those_merely_under_the_champion() -> None:
    # `a` scored under the champion, but one mean under another is not "significantly worse"
    d = decide(POLICY, {"a": 0.9, "b": 0.8}, 0.85, {"a": 0.95, "b": 0.5}, 0.7)
    assert d.promote and d.weak_categories == ()


def test_every_failed_rule_is_a_reason() -> None:
    d = decide(POLICY, {"a": 0.1}, 0.1, {"a": 0.5}, 0.5)
    assert not d.promote and len(d.reasons) == 3
    assert d.reasons[0] == "overall 0.100 < 0.70 by 0.600 (promotion.min_overall)"
    assert d.reasons[1].startswith("below the category floor")
    assert d.reasons[2].startswith("does not beat the champion")


def test_from_profile_takes_the_profile_and_only_the_given_overrides() -> None:
    prof = SimpleNamespace(min_overall=0.55, min_category=0.2, must_beat_champion=False, gate="absolute",
                           min_over_base=0.05)
    assert Policy.from_profile(prof) == Policy(min_overall=0.55, min_category=0.2, must_beat_champion=False)  # type: ignore[arg-type]
    policy = Policy.from_profile(prof, min_overall=0.9, min_category=None, must_beat_champion=None,  # type: ignore[arg-type]
                                 margin=0.05)
    assert policy == Policy(min_overall=0.9, min_category=0.2, must_beat_champion=False, margin=0.05)


def test_a_falsy_override_still_overrides() -> None:
    prof = SimpleNamespace(min_overall=0.55, min_category=0.2, must_beat_champion=True, gate="relative",
                           min_over_base=0.05)
    policy = Policy.from_profile(prof, min_category=0.0, must_beat_champion=False, gate="absolute",  # type: ignore[arg-type]
                                 min_over_base=0.0)
    assert policy.min_category == 0.0 and policy.must_beat_champion is False
    assert policy.gate == "absolute" and policy.min_over_base == 0.0
    assert Policy.from_profile(prof, gate=None).gate == "relative"  # type: ignore[arg-type]  # None: not overridden


def _evaluation(candidate: float, champion_id: str | None, champion: float) -> EvalCompleted:
    return EvalCompleted(
        cycle_id="c", specialist="orchestrator", checkpoint_id="new", suite="s", prompts=1,
        candidate={"a": candidate}, candidate_overall=candidate, champion_id=champion_id,
        champion={"a": champion}, champion_overall=champion,
    )


def test_settle_promotes_over_the_champion_it_was_measured_against() -> None:
    outcome = settle(POLICY, _evaluation(0.9, "old", 0.5), "old")
    assert (outcome.promote, outcome.resumed, outcome.previous_champion) == (True, False, "old")


def test_settle_first_promotion_is_not_a_resumption() -> None:
    outcome = settle(POLICY, _evaluation(0.9, None, 0.1), None)
    assert (outcome.promote, outcome.resumed, outcome.previous_champion) == (True, False, None)


def test_settle_refuses_when_the_champion_changed_meanwhile() -> None:
    outcome = settle(POLICY, _evaluation(0.9, "old", 0.5), "other")
    assert (outcome.promote, outcome.resumed, outcome.previous_champion) == (False, False, "other")
    assert outcome.reasons == ("champion changed from old to other during evaluation",)


def test_settle_rejection_is_not_a_resumption() -> None:
    outcome = settle(POLICY, _evaluation(0.2, "old", 0.6), "old")
    assert (outcome.promote, outcome.resumed) == (False, False)
    assert outcome.weak_categories == ("a",)  # under the floor


def test_settle_finishes_an_interrupted_promotion() -> None:
    outcome = settle(POLICY, _evaluation(0.9, "old", 0.5), "new")  # "new" is champion already
    assert (outcome.promote, outcome.resumed, outcome.previous_champion) == (True, True, "old")
    assert outcome.reasons[-1] == "resumed an interrupted promotion"
