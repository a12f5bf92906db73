from services.promoter.policy import Policy, decide

POLICY = Policy(min_overall=0.70, min_category=0.30, must_beat_champion=True)


def test_promotes_when_all_three_rules_hold() -> None:
    d = decide(POLICY, {"a": 0.9, "b": 0.6}, 0.75, {"a": 0.5, "b": 0.7}, 0.6)
    assert d.promote
    # `b` is under the overall bar and under the champion, but above the floor and not shown worse
    assert d.weak_categories == ()
    assert d.reasons == ("overall 0.750 >= 0.70", "beats the champion: 0.750 > 0.600")


def test_rejects_below_overall_bar() -> None:
    d = decide(POLICY, {"a": 0.69}, 0.69, {}, 0.0)
    assert not d.promote
    assert d.reasons == ("overall 0.690 < 0.70 by 0.010 (promotion.min_overall)",)
    assert d.weak_categories == ()  # above the floor: the feedback round does not name it


def test_rejects_one_category_under_the_floor_even_with_high_overall() -> None:
    d = decide(POLICY, {"a": 1.0, "b": 1.0, "c": 0.29}, 0.76, {}, 0.1)
    assert not d.promote
    assert d.reasons == ("below the category floor 0.30 (promotion.min_category): c=0.29 (by 0.010)",)
    assert d.weak_categories == ("c",)


def test_rejects_when_not_better_than_champion() -> None:
    d = decide(POLICY, {"a": 0.8}, 0.8, {"a": 0.8}, 0.8)
    assert not d.promote
    assert "does not beat the champion" in d.reasons[0]


def test_thresholds_are_configurable() -> None:
    lenient = Policy(min_overall=0.1, min_category=0.0, must_beat_champion=False)
    d = decide(lenient, {"a": 0.2}, 0.2, {"a": 0.9}, 0.9)
    assert d.promote
    # it did not beat the champion, and the reason does not claim it did
    assert d.reasons == ("overall 0.200 >= 0.10",
                         "not required to beat the champion (promotion.must_beat_champion: false)")
    off = Policy(min_overall=0.0, min_category=0.0, must_beat_champion=False)
    assert decide(off, {"a": 0.0}, 0.0, {}, 0.0).reasons == (
        "not required to beat the champion (promotion.must_beat_champion: false)",)


def test_weak_categories_are_those_under_the_floor_weakest_first() -> None:
    d = decide(POLICY, {"a": 0.25, "b": 0.1, "c": 0.9, "d": 0.5}, 0.5, {}, 0.0)
    assert d.weak_categories == ("b", "a")  # `d` is under the overall bar only: not named
