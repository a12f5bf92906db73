"""The loop's own record → "which version are you, what changed at your last promotion, where are
you weak" (consciousness_articulation).

The ground truth is `plan.record` (a `LoopRecord`): the registry's champion and earlier champions,
the promoter's last decision, the corpus statistics and weak categories the harvester service
reads, or, before the first promotion and in `ouro harvest`, the specialist file and the base
model's config. The record is the example's system message and every answer states only facts
from it, so the model learns to describe itself from its record and to say what the record does
not know ("no evaluation yet") instead of inventing scores. A fact the record lacks yields no
question about it.
"""

from __future__ import annotations

from collections.abc import Iterator

from services.harvester.base import Context, Draft
from services.harvester.plan import ChampionFacts, LoopRecord

NAME = "self_description"
WEAK_SHOWN = 3


def _pct(x: float) -> str:
    return f"{x:.2f}"


def card_text(r: LoopRecord) -> str:
    card = dict(r.model_card)
    parts = []
    if "model_type" in card:
        parts.append(f"a {card['model_type']} architecture")
    if "num_hidden_layers" in card:
        parts.append(f"{card['num_hidden_layers']} layers")
    if "hidden_size" in card:
        parts.append(f"hidden size {card['hidden_size']}")
    if "max_position_embeddings" in card:
        parts.append(f"a context of {card['max_position_embeddings']} tokens")
    return f"{r.base_model} ({', '.join(parts)})" if parts else r.base_model


def scores_text(c: ChampionFacts) -> str:
    return ", ".join(f"{k} {_pct(v)}" for k, v in sorted(c.categories, key=lambda kv: kv[1]))


def record_text(r: LoopRecord) -> str:
    """The record as the system message shows it: one fact per line."""
    lines = ["Your record in the Ouroboros loop (state only these facts about yourself):",
             f"- specialist: {r.specialist}", f"- base model: {card_text(r)}"]
    if r.champion is None:
        lines.append("- champion: none promoted yet; the bare base model serves")
    else:
        c = r.champion
        lines.append(f"- champion: checkpoint {c.checkpoint_id}, {c.reason} at {c.promoted_at}, "
                     f"overall {_pct(c.overall)}")
        lines.append(f"- champion scores by category: {scores_text(c)}")
    for h in r.history[-3:]:
        lines.append(f"- earlier champion: checkpoint {h.checkpoint_id}, {h.reason} at {h.promoted_at}, "
                     f"overall {_pct(h.overall)}")
    if r.history:  # what the last promotion changed is read against these
        lines.append(f"- scores of {r.history[-1].checkpoint_id} by category: {scores_text(r.history[-1])}")
    if (d := r.last_decision) is not None:
        what = "promoted" if d.promoted else "rejected"
        why = f"; reasons: {'; '.join(d.reasons)}" if d.reasons else ""
        lines.append(f"- last decision: checkpoint {d.checkpoint_id} {what}, overall {_pct(d.overall)}{why}")
    if r.weak_categories:
        lines.append(f"- weak categories fed back for more training data: {', '.join(r.weak_categories)}")
    if r.corpus:
        lines.append("- corpus: " + ", ".join(f"{k} {v}" for k, v in r.corpus))
    lines.append("- categories: " + ", ".join(f"{c} ({share_text(r, c)})" for c, _ in r.categories))
    if r.promotion:
        lines.append("- promotion bar: " + ", ".join(f"{k} {v}" for k, v in r.promotion))
    if r.training:
        lines.append("- training: " + ", ".join(f"{k} {v}" for k, v in r.training))
    for cat, _ in r.categories:
        if feeds := tasks_for(r, cat):
            lines.append(f"- tasks feeding {cat}: {', '.join(feeds)}")
    for cat, n, kinds in r.suite:
        lines.append(f"- evaluation suite, {cat}: {n} prompts scored by " + ", ".join(f"{k} ({c})" for k, c in kinds))
    if used := sorted({k for _, _, kinds in r.suite for k, _ in kinds if k in SCORERS}):
        lines.append("- scorers: " + "; ".join(f"{k}: {SCORERS[k]}" for k in used))
    if r.cadence:
        lines.append("- cadence: " + ", ".join(f"{k} {_cadence_value(k, v)}" for k, v in r.cadence))
    if r.routing:
        lines.append("- routing of `auto` requests: " + ", ".join(f"{k} {_routing_value(v)}" for k, v in r.routing))
    if r.tokens:
        lines.append("- example length band (tokens): " + ", ".join(f"{k} {v}" for k, v in r.tokens))
    return "\n".join(lines)


def even_share(r: LoopRecord) -> float | None:
    """What each category without a fixed share gets: what the fixed shares leave, split evenly."""
    free = [c for c, s in r.categories if s is None]
    if not free:
        return None
    return max(0.0, 1.0 - sum(s for _, s in r.categories if s is not None)) / len(free)


def share_text(r: LoopRecord, cat: str) -> str:
    s = dict(r.categories).get(cat)
    if s is not None:
        return f"{round(s * 100)}% of the data"
    free = sum(1 for _, x in r.categories if x is None)
    left = round(100 * (1.0 - sum(x for _, x in r.categories if x is not None)))
    return f"an even share of the {left}% left, 1/{free} of it, about {round(100 * (even_share(r) or 0))}%"


def _share(s: float | None) -> str:
    return "an even share of what is left" if s is None else f"{round(s * 100)}% of the data"


def tasks_for(r: LoopRecord, cat: str) -> list[str]:
    return sorted(t for t, c in r.tasks if c == cat)


def _cadence_value(key: str, v: object) -> str:
    if key in ("harvest", "train") and isinstance(v, str):
        return cron_words(v)
    if key == "session_horizon" and isinstance(v, int | float):
        return f"{round(v / 86400)} days"
    return f"'{v}'" if isinstance(v, str) else str(v)


def _routing_value(v: object) -> str:
    return f"{v[0]}-{v[1]}" if isinstance(v, tuple) and len(v) == 2 else str(v)


# What each scorer of the evaluator (services/evaluator/scorers.py) checks, in words.
SCORERS: dict[str, str] = {
    "exact": "the answer must equal the reference, case and punctuation aside",
    "contains": "the answer must contain the expected phrases",
    "regex": "the answer must match a pattern",
    "json_tool_call": "the answer must be a JSON tool call, graded on the tool's name and its arguments",
    "numeric": "the final number must equal the expected value",
    "token_budget": "the answer must stay within a word budget and still name the key terms",
    "code_exec": "the answer's code must pass the item's tests in the sandbox",
    "llm_judge": "a judge model grades the answer from 1 to 5 against a rubric",
}

_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def cron_words(expr: str) -> str:
    """The common cron forms in words ("every 12 hours"); any other form quoted as written."""
    f = expr.split()
    if len(f) == 5 and f[0].isdigit() and f[2:4] == ["*", "*"]:
        if f[1].startswith("*/") and f[1][2:].isdigit() and f[4] == "*":
            return f"every {f[1][2:]} hours, at minute {f[0]} (cron '{expr}', UTC)"
        if f[1].isdigit():
            at = f"{int(f[1]):02d}:{int(f[0]):02d} UTC"
            if f[4] == "*":
                return f"every day at {at} (cron '{expr}')"
            if f[4].isdigit() and int(f[4]) <= 7:
                return f"every {_DAYS[int(f[4]) % 7]} at {at} (cron '{expr}')"
    return f"on the cron schedule '{expr}' (UTC)"


def which_version(r: LoopRecord) -> str:
    if r.champion is None:
        return (f"I am the {r.specialist} specialist of the Ouroboros loop, and no version of me has been promoted "
                f"yet: I am the bare base model, {card_text(r)}, without a LoRA adapter trained on this loop's data.")
    c = r.champion
    how = "promoted" if c.reason == "promoted" else f"made champion again by a {c.reason}"
    n = len(r.history)
    earlier = f" {n} earlier champion{'s' if n != 1 else ''} came before me." if n else ""
    return (f"I am the {r.specialist} specialist, checkpoint {c.checkpoint_id}: a LoRA adapter on {r.base_model}, "
            f"{how} at {c.promoted_at} with an overall score of {_pct(c.overall)}.{earlier}")


def last_change(r: LoopRecord) -> str:
    if r.champion is None:
        tail = ""
        if (d := r.last_decision) is not None and not d.promoted:
            why = f" ({'; '.join(d.reasons)})" if d.reasons else ""
            tail = f" The last candidate, {d.checkpoint_id}, was rejected at overall {_pct(d.overall)}{why}."
        return f"Nothing has changed yet: no candidate has been promoted for the {r.specialist} specialist.{tail}"
    c = r.champion
    prev = r.history[-1] if r.history else None
    if prev is None:
        return (f"My last promotion was my first: checkpoint {c.checkpoint_id} replaced the bare base model "
                f"{r.base_model} at {c.promoted_at}, scoring {_pct(c.overall)} overall.")
    before, after = dict(prev.categories), dict(c.categories)
    deltas = sorted(((k, after[k] - before[k]) for k in after if k in before), key=lambda kv: kv[1])
    moved = [f"{k} {_pct(before[k])} → {_pct(after[k])}" for k, d in deltas[::-1] if abs(d) >= 0.005]
    lines = [f"At {c.promoted_at} checkpoint {c.checkpoint_id} replaced {prev.checkpoint_id}: overall "
             f"{_pct(prev.overall)} → {_pct(c.overall)}."]
    if moved:
        lines.append("By category: " + "; ".join(moved[:6]) + ".")
    d = r.last_decision
    if d is not None and d.promoted and d.checkpoint_id == c.checkpoint_id and d.reasons:
        lines.append("The promoter's reasons: " + "; ".join(d.reasons) + ".")
    return " ".join(lines)


def where_weak(r: LoopRecord) -> str:
    floor = dict(r.promotion).get("min_category")
    if r.champion is None:
        names = ", ".join(c for c, _ in r.categories)
        text = (f"I cannot say from measurement: no version of me has been evaluated and promoted yet, so my record "
                f"holds no scores. What I am meant to cover is {names}.")
        if r.weak_categories:
            text += (f" The loop has flagged {', '.join(r.weak_categories)} as weak and is harvesting more data "
                     "for them.")
        return text
    worst = sorted(r.champion.categories, key=lambda kv: kv[1])[:WEAK_SHOWN]
    text = "My lowest scores on my suite are " + ", ".join(f"{k} ({_pct(v)})" for k, v in worst) + "."
    if isinstance(floor, int | float) and floor > 0:
        below = [k for k, v in r.champion.categories if v < floor]
        text += (f" {', '.join(below)} {'is' if len(below) == 1 else 'are'} under the per-category floor of {floor}."
                 if below else f" None is under the per-category floor of {floor}.")
    if r.weak_categories:
        text += f" The loop is harvesting more data for {', '.join(r.weak_categories)}."
    return text


def built_on(r: LoopRecord) -> str | None:
    if not r.model_card:
        return None
    adapter = "no adapter yet" if r.champion is None else f"the LoRA adapter {r.champion.checkpoint_id}"
    return f"I run on the base model {card_text(r)}, with {adapter} on top of it."


def trained_for(r: LoopRecord) -> str:
    if all(s is None for _, s in r.categories):
        cats = ", ".join(c for c, _ in r.categories) + ", in even shares"
    else:
        cats = ", ".join(f"{c} ({_share(s)})" for c, s in r.categories)
    return (f"I am the {r.specialist} specialist. My training data and my evaluation suite cover these categories: "
            f"{cats}.")


def replace_me(r: LoopRecord) -> str | None:
    p = dict(r.promotion)
    if not p:
        return None
    parts = []
    if p.get("gate") == "relative":
        parts.append(f"score at least {p.get('min_over_base')} above the base model overall, and measurably so "
                     "on paired prompts")
    elif "min_overall" in p:
        parts.append(f"reach an overall score of at least {p['min_overall']}")
    if p.get("min_category"):
        parts.append(f"keep every category at {p['min_category']} or more")
    if p.get("must_beat_champion"):
        parts.append("beat the current champion on the same prompts")
    return f"A candidate replaces me only if it passes the promoter's bar: {'; '.join(parts)}."


def how_trained(r: LoopRecord) -> str | None:
    t = dict(r.training)
    if not t:
        return None
    text = (f"I am trained as a LoRA adapter of rank {t.get('lora_r')} (alpha {t.get('lora_alpha')}) for "
            f"{t.get('epochs')} epochs at learning rate {t.get('learning_rate')}")
    text += "; each new version starts from the current champion." if t.get("start_from") == "champion" else "."
    corpus = dict(r.corpus)
    if "live" in corpus:
        text += f" My corpus holds {corpus['live']} live examples"
        text += f" ({corpus['retired']} retired)." if "retired" in corpus else "."
    else:  # asked "how much data": the honest answer is that the record does not say
        text += " My record holds no corpus statistics yet, so I cannot say how many examples I am trained on."
    return text


def last_decision(r: LoopRecord) -> str:
    d = r.last_decision
    if d is None:
        return ("My record holds no promoter decision about me yet: no candidate of mine has been evaluated "
                "against the promotion bar.")
    what = "promoted" if d.promoted else "rejected"
    why = f" The promoter's reasons: {'; '.join(d.reasons)}." if d.reasons else " The record gives no reasons."
    weak = (f" It flagged {', '.join(d.weak_categories)} as weak." if d.weak_categories else "")
    return f"The promoter's last decision {what} checkpoint {d.checkpoint_id} at overall {_pct(d.overall)}.{why}{weak}"


def schedule(r: LoopRecord) -> str | None:
    c = dict(r.cadence)
    if "harvest" not in c or "train" not in c:
        return None
    text = (f"My data is harvested {cron_words(str(c['harvest']))}, and training is considered "
            f"{cron_words(str(c['train']))}")
    if "min_new_examples" in c:
        text += f", but only once at least {c['min_new_examples']} new examples have come in since the last training"
    return text + "."


def data_horizon(r: LoopRecord) -> str | None:
    h = dict(r.cadence).get("session_horizon")
    if not isinstance(h, int | float):
        return None
    return (f"Examples mined from operator sessions stay in my corpus for {_cadence_value('session_horizon', h)}; "
            "after that they are retired, while examples from the repository stay as long as the code they "
            "describe does.")


def routing(r: LoopRecord) -> str:
    g = dict(r.routing)
    if not g:
        return (f"The router never picks me for requests to model `auto`: my record has no routing rule, so I "
                f"am used only when a request names the {r.specialist} specialist.")
    effort = g.get("effort")
    lo, hi = (effort if isinstance(effort, tuple) and len(effort) == 2 else (None, None))
    code = g.get("code")
    kind = {True: "only requests that involve code", False: "only requests without code"}.get(
        code, "requests with or without code")  # type: ignore[call-overload]
    span = f" whose effort is rated {lo}-{hi} on the 1-10 scale" if lo is not None else ""
    return f"The router sends me requests for model `auto`{span}: {kind}. A request can also name me directly."


def length_band(r: LoopRecord) -> str | None:
    t = dict(r.tokens)
    if "min" not in t or "max" not in t:
        return None
    ctx = dict(r.model_card).get("max_position_embeddings")
    text = (f"A training example of mine must be {t['min']} to {t['max']} tokens long; the judge drops one "
            "outside that band.")
    if ctx is not None:
        text += f" My base model itself reads a context of up to {ctx} tokens."
    return text


def starting_point(r: LoopRecord) -> str | None:
    t = dict(r.training)
    if "start_from" not in t:
        return None
    if t["start_from"] == "champion":
        now = ("no champion exists yet, so the first one starts from the bare base model"
               if r.champion is None else f"today that is {r.champion.checkpoint_id}")
        return f"No. Each new version of me is trained on from the current champion's adapter; {now}."
    return f"Yes. Each new version of me is trained from the bare base model {r.base_model}, not from the champion."


def data_split(r: LoopRecord) -> str:
    fixed = [(c, s) for c, s in r.categories if s is not None]
    free = [c for c, s in r.categories if s is None]
    parts = [f"I cover {len(r.categories)} categories."]
    if fixed:
        parts.append("Fixed shares: " + ", ".join(f"{c} {round(s * 100)}%" for c, s in fixed) + ".")
    if free:
        parts.append(f"{'The other' if fixed else 'All'} {len(free)} split what is left evenly, "
                     f"about {round(100 * (even_share(r) or 0))}% each: {', '.join(free)}.")
    return " ".join(parts)


def no_data_yet(r: LoopRecord) -> str | None:
    if dict(r.corpus) or r.champion is not None:
        return None
    return ("My record holds no corpus statistics and no evaluation yet, so I cannot say how many examples "
            "each category has. It says only what share each category should get and which harvest tasks "
            "feed it; the judge's corpus counts arrive with the first harvest the loop keeps.")


def category_data(r: LoopRecord, cat: str) -> str | None:
    feeds = tasks_for(r, cat)
    if not feeds:
        return None
    count = "" if not dict(r.corpus) else " My record gives corpus totals only, not a count for this category."
    fixed = dict(r.categories).get(cat)
    share = (f"The {cat} category is set to {share_text(r, cat)}" if fixed is not None else
             f"The {cat} category has no fixed share: it gets {share_text(r, cat)} of my training data")
    return (f"{share}. Its examples come from the harvest task{'s' if len(feeds) > 1 else ''} "
            f"{', '.join(feeds)}.{count}")


def category_eval(r: LoopRecord, cat: str) -> str | None:
    suite = {c: (n, kinds) for c, n, kinds in r.suite}
    if cat not in suite:
        return None
    n, kinds = suite[cat]
    how = "; ".join(f"{'all of them' if c == n else c} by {k}" + (f" ({SCORERS[k]})" if k in SCORERS else "")
                    for k, c in kinds)
    text = f"My evaluation suite has {n} {cat} prompts. Scoring: {how}."
    floor = dict(r.promotion).get("min_category")
    if isinstance(floor, int | float) and floor > 0:
        text += f" A candidate must score at least {floor} on them to be promoted."
    if r.champion is not None and cat in dict(r.champion.categories):
        text += f" My current score there is {_pct(dict(r.champion.categories)[cat])}."
    else:
        text += " No version of me has a score there yet."
    return text


QUESTIONS: tuple[tuple[str, object], ...] = (
    ("Which version are you?", which_version),
    ("What changed at your last promotion?", last_change),
    ("Where are you weak?", where_weak),
    ("What model are you built on?", built_on),
    ("What are you trained to do?", trained_for),
    ("What would it take for a new version to replace you?", replace_me),
    ("How are you trained, and on how much data?", how_trained),
    ("What did the promoter decide about you last, and why?", last_decision),
    ("How often are you harvested and retrained?", schedule),
    ("How long do examples from operator sessions stay in your training data?", data_horizon),
    ("Which requests does the router send to you?", routing),
    ("How long may one of your training examples be?", length_band),
    ("Is each new version of you trained from scratch?", starting_point),
    ("How is your training data split between your categories?", data_split),
    ("How many examples do you have per category?", no_data_yet),
)

# Per category, two questions (where its data comes from, how it is tested), each in one of a few
# phrasings chosen by the category's position, so the set does not read as one template.
CATEGORY_QUESTIONS: tuple[tuple[tuple[str, ...], object], ...] = (
    (("Where does your {cat} training data come from?", "What share of your data is {cat}, and what feeds it?",
      "Which harvest tasks produce your {cat} examples?"), category_data),
    (("How are you tested on {cat}?", "What does your evaluation suite check for {cat}?",
      "How is your {cat} skill measured?"), category_eval),
)


def own_record(ctx: Context, generator: str) -> LoopRecord | None:
    """The harvest's record when it is this specialist's own, else None with the reason counted: another
    specialist's record would teach a false identity and state its numbers as this one's."""
    r = ctx.plan.record
    if r is None:
        ctx.skips.add(generator, "no_record")
    elif r.specialist != ctx.plan.specialist:
        ctx.skips.add(generator, "record_of_another_specialist")
    else:
        return r
    return None


def record_version(r: LoopRecord) -> str:
    """The version the record describes: the champion's checkpoint, or `base` before a promotion."""
    return r.champion.checkpoint_id if r.champion else "base"


class SelfDescription:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        if (r := own_record(ctx, NAME)) is None:
            return
        system = record_text(r)
        version = record_version(r)
        asked = [(q, fn(r)) for q, fn in QUESTIONS]  # type: ignore[operator]
        for i, (cat, _) in enumerate(r.categories):
            for phrasings, fn in CATEGORY_QUESTIONS:
                asked.append((phrasings[i % len(phrasings)].format(cat=cat), fn(r, cat)))  # type: ignore[operator]
        for question, text in asked:
            if text is None:
                ctx.skips.add(NAME, "not_in_record")
                continue
            yield Draft(generator=NAME, task="self_description", source=f"loop-record:{r.specialist}@{version}",
                        messages=(("system", system), ("user", question), ("assistant", text)))
