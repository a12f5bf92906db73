"""Balance the dataset toward the specialist's target mix, under a per-category cap.

Quotas are water-filled: the target total is shared by the target mix; a category that has
fewer examples than its share keeps all it has and its unused share goes to the others (in
proportion to their targets), never beyond the per-category cap. Within a category, examples
are ranked by their generator's quality weight (e.g. teacher 1.3), then by id, so the cut is
deterministic and keeps the best generators' examples first.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from shared.events import Example
from shared.specialists import Profile


class MixEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    available: int
    kept: int
    target: float  # share of the dataset the profile asks for
    reached: float  # share of the dataset it got
    note: str


def target_mix(profile: Profile, present: Sequence[str]) -> dict[str, float]:
    """Named categories get their share; the rest (profile categories and any new ones) split the remainder."""
    named = {c: s for c, s in profile.mix.items()}
    others = [c for c in dict.fromkeys([*profile.categories, *sorted(present)]) if c not in named]
    rest = max(0.0, 1.0 - sum(named.values()))
    return {**named, **{c: rest / len(others) for c in others}} if others else named


def rank_key(example: Example, weights: dict[str, float]) -> tuple[float, str]:
    return (-weights.get(example.generator, 1.0), example.id)


def quotas(available: dict[str, int], target: dict[str, float], cap: int, total: int) -> dict[str, int]:
    limit = {c: min(available.get(c, 0), cap) for c in target}
    quota = dict.fromkeys(target, 0)
    open_ = {c for c in target if limit[c] > 0 and target[c] > 0}
    remaining = min(total, sum(limit.values()))
    while open_ and remaining > 0:
        weight = sum(target[c] for c in open_)
        # largest-remainder rounding keeps the sum exact and the result deterministic
        raw = {c: remaining * target[c] / weight for c in open_}
        share = {c: int(raw[c]) for c in open_}
        left = remaining - sum(share.values())
        for c in sorted(open_, key=lambda c: (-(raw[c] - share[c]), c))[:left]:
            share[c] += 1
        full = {c for c in open_ if quota[c] + share[c] >= limit[c]}
        if not full:
            for c in open_:
                quota[c] += share[c]
            break
        for c in full:  # saturated categories take what they can; the rest is shared again
            remaining -= limit[c] - quota[c]
            quota[c] = limit[c]
        open_ -= full
    return quota


def balance(
    examples: Sequence[Example], *, profile: Profile, cap: int, max_examples: int | None,
    generator_weights: dict[str, float], prefer: frozenset[str] = frozenset(),
) -> tuple[list[Example], list[Example], dict[str, MixEntry]]:
    """Returns (kept, cut by the balance, mix report per category). Within a category the ids in
    `prefer` (a corpus snapshot's new examples) are kept first, then the best generators'."""
    by_cat: dict[str, list[Example]] = defaultdict(list)
    for e in examples:
        by_cat[e.category].append(e)
    target = target_mix(profile, list(by_cat))
    available = {c: len(v) for c, v in by_cat.items()}
    total = max_examples if max_examples is not None else cap * len(target)
    quota = quotas(available, target, cap, total)
    kept: list[Example] = []
    cut: list[Example] = []
    for c in sorted(by_cat):
        ranked = sorted(by_cat[c], key=lambda e: (e.id not in prefer, *rank_key(e, generator_weights)))
        kept += ranked[: quota[c]]
        cut += ranked[quota[c] :]
    n = len(kept)
    mix: dict[str, MixEntry] = {}
    for c in sorted(target):
        reached = quota[c] / n if n else 0.0
        want = round(target[c] * n)
        tolerance = max(1, round(0.02 * n))  # rounding is not a deviation worth explaining
        if target[c] == 0:
            note = "not in the target mix"
        elif available.get(c, 0) == 0:
            note = "no examples"
        elif abs(quota[c] - want) <= tolerance:
            note = "at target"
        elif quota[c] < want and quota[c] == available[c]:
            note = f"not enough examples (have {available[c]}, target {want})"
        elif quota[c] < want:
            note = f"per-category cap {cap}"
        else:
            note = "took the share other categories could not fill"
        mix[c] = MixEntry(available=available.get(c, 0), kept=quota[c], target=round(target[c], 4),
                          reached=round(reached, 4), note=note)
    return kept, cut, mix
