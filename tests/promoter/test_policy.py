from services.promoter.policy import Policy, decide

POLICY = Policy(min_overall=0.70, min_category=0.30, must_beat_champion=True)


def test_promotes_when_all_three_rules_hold() -> None:
    d = decide(POLICY, {"a": 0.9, "b": 0.6}, 0.75, {"a": 0.5, "b": 0.7}, 0.6)
    assert d.promote
    assert d.weak_categories == ("b",)  # below the bar and below the champion there


def test_rejects_below_overall_bar() -> None:
    d = decide(POLICY, {"a": 0.69}, 0.69, {}, 0.0)
    assert not d.promote
    assert d.reasons == ("overall 0.690 < 0.70",)
    assert d.weak_categories == ("a",)


def test_rejects_one_category_under_the_floor_even_with_high_overall() -> None:
    d = decide(POLICY, {"a": 1.0, "b": 1.0, "c": 0.29}, 0.76, {}, 0.1)
    assert not d.promote
    assert d.reasons == ("below the category floor 0.30: c=0.29",)


def test_rejects_when_not_better_than_champion() -> None:
    d = decide(POLICY, {"a": 0.8}, 0.8, {"a": 0.8}, 0.8)
    assert not d.promote
    assert "does not beat the champion" in d.reasons[0]


def test_thresholds_are_configurable() -> None:
    lenient = Policy(min_overall=0.1, min_category=0.0, must_beat_champion=False)
    assert decide(lenient, {"a": 0.2}, 0.2, {"a": 0.9}, 0.9).promote


def test_weak_categories_are_ordered_weakest_first() -> None:
    d = decide(POLICY, {"a": 0.5, "b": 0.1, "c": 0.9}, 0.5, {}, 0.0)
    assert d.weak_categories == ("b", "a")
