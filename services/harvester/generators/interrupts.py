"""Interrupts and decisions: session turns where the operator stopped the assistant or changed
direction → what to do now, with the reason.

Two signals, both read from the conversation itself: a turn the operator interrupted (the session
format's "[Request interrupted by user]" marker; the parser marks that turn), and a message that
turns away from the previous request ("actually", "instead", "never mind", "cancel", "stop",
"scratch that", ...). The decision is what the session shows the assistant did next (the call it
made, with its arguments, or its reply), or, when the operator said nothing more, to stop and wait;
the reason names what was dropped and whether anything had already run for it, both of which the
prompt shows.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from services.harvester.base import Context, Draft
from services.harvester.generators.affect import call_text, clip, conversations, transcript
from services.harvester.session_formats import Conversation, Turn

NAME = "interrupts"
MAX_CONTEXT_TURNS = 4
_TURN_AWAY = re.compile(
    r"^\s*(?:actually|wait|stop|hold on|never ?mind|nvm|cancel|scratch that|forget (?:it|that)|no,|not that|"
    r"instead)\b|\b(?:instead|rather than|don'?t do that|stop (?:that|it|the)|cancel (?:that|it|the)|never ?mind)\b",
    re.IGNORECASE)

PROMPT = ("Here is an operator's conversation with the loop's assistant.\n\n{transcript}\n\n"
          "What should the assistant do now, and why?")


def ran(turn: Turn) -> str:
    if not turn.tool_calls:
        return "no tool had run for it yet, so nothing needs undoing"
    calls = ", ".join(call_text(c) for c in turn.tool_calls[:3])
    return f"{calls} had already been called for it, so say what that call may have started before moving on"


def now(turn: Turn) -> str | None:
    """The next step the session took for `turn`, or None when it took none usable."""
    if turn.error is not None:
        return None
    if turn.tool_calls:
        return "Now call " + "; then ".join(call_text(c) for c in turn.tool_calls[:3]) + "."
    if turn.answer:
        return f"Now reply:\n\n{turn.answer.strip()}"
    return None


def shown(turns: list[Turn]) -> str:
    """The transcript, with an interrupted turn marked as the operator's stop."""
    text = []
    for t in turns:
        body = transcript([Turn(user=t.user, tool_calls=t.tool_calls, answers=t.answers,
                                error=None if t.error == "interrupted" else t.error)])
        text.append(body + ("\n[the operator interrupted the assistant here]" if t.error == "interrupted" else ""))
    return "\n".join(text)


def conversation_drafts(conv: Conversation, ctx: Context) -> Iterator[Draft]:
    turns = conv.turns
    for i, turn in enumerate(turns):
        before = turns[max(0, i - MAX_CONTEXT_TURNS):i]
        where = dict(generator=NAME, task="interrupt", source=conv.source, session_id=conv.session_id)
        if turn.error == "interrupted" and i + 1 == len(turns):
            # stopped, and nothing more said: the decision is to stop and wait
            answer = (f"Stop working on \"{clip(turn.user, 200)}\" and do not retry it: the operator interrupted "
                      f"it, and {ran(turn)}. Wait for the next instruction rather than guessing what they want "
                      "now; a retry would act against the operator's latest word.")
            yield Draft(messages=(("user", PROMPT.format(transcript=shown([*before, turn]))), ("assistant", answer)),
                        hint="stopped", **where)
            continue
        prev = turns[i - 1] if i > 0 else None
        if prev is None:
            continue
        stopped = prev.error == "interrupted"
        if not stopped and not _TURN_AWAY.search(turn.user):
            continue
        step = now(turn)
        if step is None:
            ctx.skips.add(NAME, "no_usable_next_step")
            continue
        why = ("the operator interrupted it" if stopped else
               f"the operator turned away from it (\"{_cue(turn.user)}\")")
        answer = (f"Drop \"{clip(prev.user, 200)}\": {why}, and {ran(prev)}. Follow the new request, "
                  f"\"{clip(turn.user, 200)}\", because the latest instruction replaces the earlier one.\n\n{step}")
        yield Draft(messages=(("user", PROMPT.format(transcript=shown([*before, Turn(user=turn.user)]))),
                              ("assistant", answer)),
                    hint="interrupted" if stopped else "redirected", **where)


def _cue(text: str) -> str:
    m = _TURN_AWAY.search(text)
    return m.group(0).strip() if m else ""


class Interrupts:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        for conv in conversations(ctx, NAME):
            yield from conversation_drafts(conv, ctx)
