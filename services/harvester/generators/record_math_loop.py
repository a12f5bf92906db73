"""record_math's questions on the loop around the model (see record_math.py): the data mix, the
harvest and training schedules, the length band, routing, the evaluation suite and the promotion
bar, and, in a running loop, the champions, the last decision and the corpus.
"""

from __future__ import annotations

import math

from services.harvester.generators.record_math_model import (
    ANSWER_WORDS,
    AUTO_REQUESTS,
    BASE_OVERALL,
    BATCH,
    DATASET,
    PER_HARVEST,
    PROMPT_TOKENS,
    QUOTA,
    SCORE_SHARES,
    TOKENS_PER_WORD,
    Problem,
    num,
    pct,
)
from services.harvester.plan import LoopRecord


def _split(r: LoopRecord) -> tuple[list[tuple[str, float]], list[str]] | None:
    fixed = [(c, s) for c, s in r.categories if s is not None]
    free = [c for c, s in r.categories if s is None]
    # one category alone gets everything: nothing to work out
    return (fixed, free) if free and len(r.categories) > 1 and sum(s for _, s in fixed) < 1 else None


def _shares_text(r: LoopRecord) -> str:
    return f"{len(r.categories)} categories and their shares of the data: " + ", ".join(
        f"{c} {'an even share of what the fixed shares leave' if s is None else num(s)}" for c, s in r.categories)


def p_mix_count(r: LoopRecord) -> Problem | None:
    if (got := _split(r)) is None:
        return None
    fixed, free = got
    fixed_n = [(c, round(DATASET * s)) for c, s in fixed]
    left = DATASET - sum(n for _, n in fixed_n)
    if left % len(free):
        return None
    each = left // len(free)
    steps = [f"{c}: {DATASET} × {num(s)} = {round(DATASET * s)}." for c, s in fixed]
    steps.append(f"Left: {DATASET}" + "".join(f" − {n}" for _, n in fixed_n) + f" = {left}.")
    steps.append(f"Each of the {len(free)} even-share categories: {left} ÷ {len(free)} = {each}.")
    return Problem("mix_count", (_shares_text(r),),
                   f"A balanced dataset of {DATASET} examples: how many {free[-1]} examples does it hold?",
                   tuple(steps), f"So {free[-1]} gets {each} of the {DATASET} examples.", each)


def p_mix_quota(r: LoopRecord) -> Problem | None:
    if (got := _split(r)) is None or not got[0]:
        return None
    (cat, s), free = got[0][0], got[1]
    want = QUOTA
    total = round(want / s, 6)
    fixed_sum = round(sum(x for _, x in got[0]), 6)
    others = round(total * (1 - fixed_sum), 6)
    each = others / len(free)
    if not (total.is_integer() and others.is_integer() and each.is_integer()):
        return None
    steps = [f"Dataset size: {want} ÷ {num(s)} = {int(total)}."]
    if len(got[0]) > 1:
        steps.append(f"Fixed shares together: {' + '.join(num(x) for _, x in got[0])} = "
                     f"{num(round(sum(x for _, x in got[0]), 6))}.")
    steps += [f"Left for the even shares: {int(total)} × (1 − {num(fixed_sum)}) = {int(others)}.",
              f"Each of the {len(free)}: {int(others)} ÷ {len(free)} = {int(each)}."]
    return Problem("mix_quota", (_shares_text(r),),
                   f"The dataset should hold exactly {want} {cat} examples at its share. How large is it then, and "
                   f"how many {free[0]} examples does it hold?", tuple(steps),
                   f"So the dataset has {int(total)} examples, {int(each)} of them {free[0]}.", int(each))


def p_mix_ratio(r: LoopRecord) -> Problem | None:
    if (got := _split(r)) is None or not got[0]:
        return None
    fixed, free = got
    fixed_sum = round(sum(s for _, s in fixed), 6)
    each = round((1 - fixed_sum) / len(free), 6)
    cat, s = fixed[0]
    ratio = round(each / s, 4)
    return Problem("mix_ratio", (_shares_text(r),),
                   f"How many {free[0]} examples does the dataset hold for every {cat} example?",
                   (f"Left by the fixed shares: 1 − {num(fixed_sum)} = {num(round(1 - fixed_sum, 6))}.",
                    f"Each even share: {num(round(1 - fixed_sum, 6))} ÷ {len(free)} = {num(each)}.",
                    f"Ratio: {num(each)} ÷ {num(s)} = {num(ratio)}."),
                   f"So there are {num(ratio)} {free[0]} examples per {cat} example.", ratio)


def _cron(expr: object) -> tuple[int, list[int], int | None, str] | None:
    """(minute, hours, hour step or None, day-of-week field) for the daily/weekly cron forms."""
    f = str(expr).split()
    if len(f) != 5 or not f[0].isdigit() or f[2:4] != ["*", "*"]:
        return None
    if f[1].startswith("*/") and f[1][2:].isdigit() and 0 < int(f[1][2:]) <= 24:
        step = int(f[1][2:])
        return int(f[0]), list(range(0, 24, step)), step, f[4]
    if f[1].isdigit():
        return int(f[0]), [int(f[1])], None, f[4]
    return None


def _harvest(r: LoopRecord) -> tuple[str, int, list[int], int] | None:
    """The harvest cron, its minute, hours and step, when it is "every N hours" with N dividing 24."""
    expr = dict(r.cadence).get("harvest")
    got = _cron(expr)
    if got is None or got[2] is None or 24 % got[2] or got[3] != "*":
        return None
    return str(expr), got[0], got[1], got[2]


def _per_day_step(step: int) -> str:
    return f"Harvests per day: 24 ÷ {step} = {24 // step}."


def p_harvests_week(r: LoopRecord) -> Problem | None:
    if (h := _harvest(r)) is None:
        return None
    expr, _, hours, step = h
    return Problem("harvests_week", (f"harvest schedule (cron, UTC): '{expr}', every {step} hours",),
                   "How many harvests run in one week?",
                   (_per_day_step(step), f"Per week: {len(hours)} × 7 = {len(hours) * 7}."),
                   f"So {len(hours) * 7} harvests run each week.", len(hours) * 7)


def p_first_after_training(r: LoopRecord) -> Problem | None:
    t = _cron(dict(r.cadence).get("train"))
    if (h := _harvest(r)) is None or t is None or len(t[1]) != 1 or t[0] != h[1]:
        return None
    expr, _, hours, step = h
    th = t[1][0]
    later = [x for x in hours if x > th]
    if not later:
        return None
    marks = ", ".join(f"{i} × {step} = {x}" for i, x in enumerate(hours))
    return Problem("first_after_training",
                   (f"harvest schedule (cron, UTC): '{expr}', every {step} hours from hour 0",
                    f"training schedule (cron, UTC): '{dict(r.cadence)['train']}', at {th:02d}:{t[0]:02d}"),
                   "How many hours after a training starts does the next harvest run?",
                   (f"Harvest hours: {marks}.", f"The first of them after hour {th} is {later[0]}.",
                    f"Wait: {later[0]} − {th} = {later[0] - th} hours."),
                   f"So the next harvest runs {later[0] - th} hours after training starts.", later[0] - th)


def p_threshold_wait(r: LoopRecord) -> Problem | None:
    n = dict(r.cadence).get("min_new_examples")
    if (h := _harvest(r)) is None or not isinstance(n, int) or n <= 0:
        return None
    expr, _, _, step = h
    k = math.ceil(n / PER_HARVEST)
    hours = (k - 1) * step
    return Problem("threshold_wait", (f"harvests every {step} hours (cron '{expr}')",
                                      f"training starts as soon as {n} new examples have come in",
                                      f"each harvest keeps {PER_HARVEST} new examples"),
                   "Counting from the first harvest after a training, how many hours pass until the harvest that "
                   "triggers the next training?",
                   (f"Harvests needed: ⌈{n} ÷ {PER_HARVEST}⌉ = {k}.",
                    f"From the first harvest to harvest number {k}: ({k} − 1) × {step} = {hours} hours."),
                   f"So training is triggered {hours} hours after the first harvest.", hours)


def _horizon(r: LoopRecord) -> int | None:
    v = dict(r.cadence).get("session_horizon")
    return int(v) if isinstance(v, int | float) and v > 0 and float(v).is_integer() and v % 86400 == 0 else None


def p_horizon_harvests(r: LoopRecord) -> Problem | None:
    if (h := _harvest(r)) is None or (sec := _horizon(r)) is None:
        return None
    days = sec // 86400
    per = 24 // h[3]
    return Problem("horizon_harvests", (f"examples from operator sessions stay in the corpus for {sec} seconds",
                                        f"harvests every {h[3]} hours"),
                   "How many harvests run while one session example stays in the corpus?",
                   (f"Days: {sec} ÷ 86400 = {days}.", _per_day_step(h[3]), f"Harvests: {days} × {per} = "
                    f"{days * per}."),
                   f"So about {days * per} harvests run during its stay.", days * per)


def p_horizon_trainings(r: LoopRecord) -> Problem | None:
    t = _cron(dict(r.cadence).get("train"))
    if (sec := _horizon(r)) is None or t is None or len(t[1]) != 1 or not t[3].isdigit():
        return None
    days = sec // 86400
    weeks, spare = days // 7, days % 7
    return Problem("horizon_trainings", (f"session examples are retired after {sec} seconds",
                                         f"training runs once a week (cron '{dict(r.cadence)['train']}')"),
                   "At least how many weekly trainings does a session example take part in before it is retired?",
                   (f"Days: {sec} ÷ 86400 = {days}.", f"Whole weeks: ⌊{days} ÷ 7⌋ = {weeks}.",
                    f"Spare days: {days} − {weeks} × 7 = {spare}, which may or may not hold one more training."),
                   f"So it is in at least {weeks} weekly trainings.", weeks)


def p_length_check(r: LoopRecord) -> Problem | None:
    t = dict(r.tokens)
    lo, hi = t.get("min"), t.get("max")
    if not isinstance(lo, int) or not isinstance(hi, int):
        return None
    total = ANSWER_WORDS * TOKENS_PER_WORD + PROMPT_TOKENS
    if not (lo <= total <= hi) or not float(total).is_integer():
        return None
    answer = ANSWER_WORDS * TOKENS_PER_WORD
    return Problem("length_check", (f"the judge keeps an example of {lo} to {hi} tokens",
                                    f"an answer of {ANSWER_WORDS} words at about {TOKENS_PER_WORD} tokens a word",
                                    f"its prompt: {PROMPT_TOKENS} tokens"),
                   "Does the example stay inside the band, and how many tokens are to spare below the maximum?",
                   (f"Answer tokens: {ANSWER_WORDS} × {TOKENS_PER_WORD} = {num(answer)}.",
                    f"Example: {num(answer)} + {PROMPT_TOKENS} = {num(total)}.",
                    f"Spare: {hi} − {num(total)} = {num(hi - total)}, so it stays (and {num(total)} ≥ {lo})."),
                   f"So it is kept with {num(hi - total)} tokens to spare.", int(hi - total))


def p_routing(r: LoopRecord) -> Problem | None:
    effort = dict(r.routing).get("effort")
    if not (isinstance(effort, tuple) and len(effort) == 2):
        return None
    lo, hi = effort
    levels = hi - lo + 1
    if AUTO_REQUESTS * levels % 10:
        return None
    return Problem("routing_share", (f"requests for model `auto` with an estimated effort from {lo} to {hi} "
                                     "(on a 1-10 scale) come here",
                                     f"{AUTO_REQUESTS} requests, their efforts spread evenly over the 10 levels"),
                   "How many of those requests does this specialist get?",
                   (f"Levels in the band: {hi} − {lo} + 1 = {levels}.", f"Share: {levels} ÷ 10 × 100 = "
                    f"{num(levels / 10 * 100)}%.", f"Requests: {AUTO_REQUESTS} × {levels} ÷ 10 = "
                    f"{AUTO_REQUESTS * levels // 10}."),
                   f"So it gets {AUTO_REQUESTS * levels // 10} of them.", AUTO_REQUESTS * levels // 10)


def _suite_text(r: LoopRecord) -> str:
    return f"evaluation suite, {len(r.suite)} categories: " + ", ".join(f"{c} {n} prompts" for c, n, _ in r.suite)


def p_suite_share(r: LoopRecord) -> Problem | None:
    if len(r.suite) < 2:
        return None
    cat, n, _ = max(r.suite, key=lambda x: (x[1], x[0]))
    total = sum(x[1] for x in r.suite)
    share = pct(n / total * 100)
    return Problem("suite_share", (_suite_text(r),),
                   f"What percentage of the suite's prompts are {cat} prompts? Two decimals.",
                   (f"All prompts: {' + '.join(str(x[1]) for x in r.suite)} = {total}.",
                    f"Share: {n} ÷ {total} × 100 ≈ {share}."),
                   f"So {cat} is about {share}% of the suite.", share)


def p_scorer_share(r: LoopRecord) -> Problem | None:
    counts: dict[str, int] = {}
    for _, _, kinds in r.suite:
        for k, c in kinds:
            counts[k] = counts.get(k, 0) + c
    if len(counts) < 2:
        return None
    kind = max(sorted(counts), key=lambda k: counts[k])
    parts = [c for _, _, kinds in r.suite for k, c in kinds if k == kind]
    total = sum(n for _, n, _ in r.suite)
    share = pct(counts[kind] / total * 100)
    given = "; ".join(f"{c}: {n} prompts, " + ", ".join(f"{k} {x}" for k, x in kinds) for c, n, kinds in r.suite)
    return Problem("scorer_share", (f"how the evaluation suite scores its prompts: {given}",),
                   f"What percentage of all prompts is scored by the {kind} scorer? Two decimals.",
                   (f"{kind} prompts: {' + '.join(map(str, parts))} = {counts[kind]}." if len(parts) > 1 else
                    f"{kind} prompts: {counts[kind]}.",
                    f"All prompts: {' + '.join(str(n) for _, n, _ in r.suite)} = {total}.",
                    f"Share: {counts[kind]} ÷ {total} × 100 ≈ {share}."),
                   f"So the {kind} scorer grades about {share}% of the suite.", share)


def p_overall(r: LoopRecord) -> Problem | None:
    if len(r.suite) < 2:
        return None
    right = [(c, n, round(n * SCORE_SHARES[i % len(SCORE_SHARES)])) for i, (c, n, _) in enumerate(r.suite)]
    scores = [round(k / n, 4) for _, n, k in right]
    overall = round(sum(scores) / len(scores), 4)
    return Problem("overall_score", (_suite_text(r), "a category's score is the share of its prompts answered "
                                                     "right; the overall score is the mean of the category scores"),
                   "A candidate answers " + ", ".join(f"{k} {c}" for c, _, k in right) + " prompts right. What "
                   "is its overall score, to four decimals?",
                   (*(f"{c}: {k} ÷ {n} ≈ {s}." for (c, n, k), s in zip(right, scores, strict=True)),
                    f"Overall: ({' + '.join(map(str, scores))}) ÷ {len(scores)} ≈ {overall}."),
                   f"So its overall score is about {overall}.", overall)


def p_promotion(r: LoopRecord) -> Problem | None:
    p = dict(r.promotion)
    gap = p.get("min_over_base")
    if p.get("gate") != "relative" or not isinstance(gap, float | int) or gap <= 0 or len(r.suite) < 2:
        return None
    cat, n, _ = max(r.suite, key=lambda x: (x[1], x[0]))
    k = len(r.suite)
    bar = round(BASE_OVERALL + gap, 6)
    rise = round(gap * k, 6)
    need = math.ceil(round(rise * n, 6))
    return Problem("promotion_prompts",
                   (f"promotion bar: overall at least the base model's overall + {gap}",
                    f"the overall score is the mean of the {k} category scores; a category's score is the share "
                    "of its prompts answered right", _suite_text(r), f"the base model scores {BASE_OVERALL} overall"),
                   f"A candidate matches the base in every category but {cat}. How many more {cat} prompts must it "
                   "answer right than the base to reach the bar's overall score?",
                   (f"Bar: {BASE_OVERALL} + {num(gap)} = {num(bar)}, so the overall score must rise by {num(gap)}.",
                    f"Only {cat} moves, and the overall is its score ÷ {k} plus the others', so {cat} must rise by "
                    f"{num(gap)} × {k} = {num(rise)}.",
                    f"Prompts: ⌈{num(rise)} × {n}⌉ = ⌈{num(round(rise * n, 6))}⌉ = {need}."),
                   f"So it needs {need} more {cat} prompts right.", need)


def p_prompt_weight(r: LoopRecord) -> Problem | None:
    if len(r.suite) < 2:
        return None
    cat, n, _ = max(r.suite, key=lambda x: (x[1], x[0]))
    k = len(r.suite)
    w = pct(100 / (n * k))
    return Problem("prompt_weight", (_suite_text(r), "the overall score is the mean of the category scores, each "
                                                     "the share of its prompts answered right"),
                   f"By how many percentage points does one more right {cat} answer raise the overall score? "
                   "Two decimals.",
                   (f"One {cat} prompt moves its category by 1 ÷ {n}.",
                    f"Overall moves by that ÷ {k}: 100 ÷ ({n} × {k}) ≈ {w} points."),
                   f"So each {cat} prompt is worth about {w} points of the overall score.", w)


def _s(x: float) -> float:
    return round(x, 4)  # scores as the prompt shows them; every step computes from these


def p_champion_gain(r: LoopRecord) -> Problem | None:
    if r.champion is None or not r.history:
        return None
    c, prev = r.champion, r.history[-1]
    a, b = _s(prev.overall), _s(c.overall)
    if a <= 0:
        return None
    diff, rel = round(b - a, 4), pct((b - a) / a * 100)
    return Problem("champion_gain", (f"earlier champion {prev.checkpoint_id}: overall {a}",
                                     f"current champion {c.checkpoint_id}: overall {b}"),
                   "By how many points did the overall score change at the last promotion, and by what percentage "
                   "of the earlier score (two decimals)?",
                   (f"Change: {b} − {a} = {diff}.", f"Relative: {diff} ÷ {a} × 100 ≈ {rel}."),
                   f"So the overall score moved by {diff}, about {rel}% of where it was.", rel)


def p_category_gain(r: LoopRecord) -> Problem | None:
    if r.champion is None or not r.history:
        return None
    before, after = dict(r.history[-1].categories), dict(r.champion.categories)
    common = sorted(k for k in after if k in before)
    if len(common) < 2:
        return None
    moves = [(k, _s(before[k]), _s(after[k]), round(_s(after[k]) - _s(before[k]), 4)) for k in common]
    best = max(moves, key=lambda m: (m[3], m[0]))
    return Problem("category_gain",
                   ("category scores before → after the last promotion: "
                    + ", ".join(f"{k} {a} → {b}" for k, a, b, _ in moves),),
                   "Which category gained the most, and by how much?",
                   tuple(f"{k}: {b} − {a} = {d}." for k, a, b, d in moves),
                   f"So {best[0]} gained the most, {best[3]}.", best[3])


def p_decision_gap(r: LoopRecord) -> Problem | None:
    d, c = r.last_decision, r.champion
    if d is None or c is None or d.promoted or d.checkpoint_id == c.checkpoint_id:
        return None
    a, b = _s(c.overall), _s(d.overall)
    gap = round(a - b, 4)
    return Problem("decision_gap", (f"champion {c.checkpoint_id}: overall {a}",
                                    f"last candidate {d.checkpoint_id}: rejected at overall {b}"),
                   "How far below the champion's overall score did the rejected candidate land, as a difference "
                   "and as a percentage of the champion's score (two decimals)?",
                   (f"Gap: {a} − {b} = {gap}.", f"Relative: {gap} ÷ {a} × 100 ≈ {pct(gap / a * 100)}."),
                   f"So it landed {gap} below, about {pct(gap / a * 100)}% of the champion's score.",
                   pct(gap / a * 100))


def p_corpus_retired(r: LoopRecord) -> Problem | None:
    corpus = dict(r.corpus)
    live, gone = corpus.get("live"), corpus.get("retired")
    if not isinstance(live, int) or not isinstance(gone, int) or live + gone == 0:
        return None
    share = pct(gone / (live + gone) * 100)
    return Problem("corpus_retired", (f"corpus: {live} live examples, {gone} retired",),
                   "What percentage of every example the corpus has held is retired? Two decimals.",
                   (f"Held in all: {live} + {gone} = {live + gone}.", f"Retired share: {gone} ÷ {live + gone} × 100 "
                    f"≈ {share}."),
                   f"So about {share}% of the corpus has been retired.", share)


def p_corpus_steps(r: LoopRecord) -> Problem | None:
    live, epochs = dict(r.corpus).get("live"), dict(r.training).get("epochs")
    if not isinstance(live, int) or live <= 0 or not isinstance(epochs, int | float):
        return None
    per = math.ceil(live / BATCH)
    total = per * epochs
    value = int(total) if float(total).is_integer() else round(total, 2)
    return Problem("corpus_steps", (f"corpus: {live} live examples, all of them trained on",
                                    f"{num(epochs)} epochs, batches of {BATCH}, one optimizer step per batch"),
                   "How many optimizer steps does the next training run take?",
                   (f"Per epoch: ⌈{live} ÷ {BATCH}⌉ = {per}.", f"In all: {per} × {num(epochs)} = {value}."),
                   f"So the next run takes {value} optimizer steps.", value)


LOOP_PROBLEMS = (
    p_mix_count, p_mix_quota, p_mix_ratio, p_harvests_week, p_first_after_training, p_threshold_wait,
    p_horizon_harvests, p_horizon_trainings, p_length_check, p_routing, p_suite_share, p_scorer_share, p_overall,
    p_promotion, p_prompt_weight, p_champion_gain, p_category_gain, p_decision_gap, p_corpus_retired,
    p_corpus_steps,
)
