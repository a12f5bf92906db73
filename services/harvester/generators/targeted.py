"""Targeted regeneration: more examples of the categories the last candidate was weak in.

Variants are re-framings of drafts already mined from the plan's own sources (question after
the material instead of before, a role system prompt, a teammate's phrasing), so the model sees
the same real answers asked in new ways. Evaluation suites are never read: copying their prompts
would train on the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from services.harvester.base import Context, Draft
from services.harvester.categories import category_for
from shared.specialists import profile

NAME = "targeted"
VARIANTS_PER_DRAFT = 2

Messages = tuple[tuple[str, str], ...]


def _split_user(messages: Messages) -> tuple[Messages, str, Messages]:
    i = max(i for i, (r, _) in enumerate(messages) if r == "user")
    return messages[:i], messages[i][1], messages[i + 1 :]


def question_last(messages: Messages) -> Messages | None:
    """Material first, question last: the order many real requests arrive in."""
    head, user, tail = _split_user(messages)
    first, sep, rest = user.partition("\n\n")
    if not sep or not rest.strip():
        return None
    return (*head, ("user", f"{rest.strip()}\n\n{first.strip()}"), *tail)


def with_role(specialist: str) -> Callable[[Messages], Messages | None]:
    def apply(messages: Messages) -> Messages | None:
        role = f"You are the {specialist} of Ouroboros, a self-improving loop. Answer precisely."
        if messages and messages[0][0] == "system":
            return ((messages[0][0], f"{role}\n{messages[0][1]}"), *messages[1:])
        return (("system", role), *messages)

    return apply


def teammate(messages: Messages) -> Messages | None:
    head, user, tail = _split_user(messages)
    return (*head, ("user", f"A teammate on the project asks:\n{user}"), *tail)


class Targeted:
    name = NAME

    def run(self, drafts: list[Draft], ctx: Context) -> Iterator[Draft]:
        spec = ctx.plan.specialist
        weak = [c for c in ctx.plan.weak_categories if c in profile(spec).categories]
        for c in ctx.plan.weak_categories:
            if c not in weak:
                ctx.skips.add(NAME, f"unknown_category:{c}")
        produced = {c: 0 for c in weak}
        rewrites = (question_last, with_role(str(spec)), teammate)
        for i, d in enumerate(drafts):
            cat = category_for(d.task, spec, d.hint)
            if cat not in produced:
                continue
            made = 0
            # Rotate the starting rewrite by position so variants spread over all three framings.
            for k in range(len(rewrites)):
                if made >= VARIANTS_PER_DRAFT:
                    break
                new = rewrites[(i + k) % len(rewrites)](d.messages)
                if new is None or new == d.messages:
                    continue
                made += 1
                yield Draft(generator=NAME, task=d.task, hint=d.hint, source=d.source, commit=d.commit,
                            path=d.path, lines=d.lines, session_id=d.session_id, messages=new,
                            format=d.format, thought=d.thought)
            produced[cat] += made
        for c, n in produced.items():
            if n == 0:
                ctx.skips.add(NAME, f"no_source_for:{c}")
