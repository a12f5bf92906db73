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
    lines.append("- categories: " + ", ".join(f"{c} ({_share(s)})" for c, s in r.categories))
    if r.promotion:
        lines.append("- promotion bar: " + ", ".join(f"{k} {v}" for k, v in r.promotion))
    if r.training:
        lines.append("- training: " + ", ".join(f"{k} {v}" for k, v in r.training))
    return "\n".join(lines)


def _share(s: float | None) -> str:
    return "an even share of what is left" if s is None else f"{round(s * 100)}% of the data"


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
    return text


QUESTIONS: tuple[tuple[str, object], ...] = (
    ("Which version are you?", which_version),
    ("What changed at your last promotion?", last_change),
    ("Where are you weak?", where_weak),
    ("What model are you built on?", built_on),
    ("What are you trained to do?", trained_for),
    ("What would it take for a new version to replace you?", replace_me),
    ("How are you trained, and on how much data?", how_trained),
)


class SelfDescription:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        r = ctx.plan.record
        if r is None:
            ctx.skips.add(NAME, "no_record")
            return
        if r.specialist != ctx.plan.specialist:  # another specialist's record would teach a false identity
            ctx.skips.add(NAME, "record_of_another_specialist")
            return
        system = record_text(r)
        version = r.champion.checkpoint_id if r.champion else "base"
        for question, answer in QUESTIONS:
            text = answer(r)  # type: ignore[operator]
            if text is None:
                ctx.skips.add(NAME, "not_in_record")
                continue
            yield Draft(generator=NAME, task="self_description", source=f"loop-record:{r.specialist}@{version}",
                        messages=(("system", system), ("user", question), ("assistant", text)))
