"""Whole sessions → turns where the operator shows frustration, urgency, confusion or satisfaction
→ the state recognised, what shows it, and a reply that addresses it and moves the work on.

Turn-by-turn mining cuts away what makes a message frustrated ("still broken" after a failed
attempt) or grateful, so this generator reads each conversation whole. A state is recognised
only from evidence the prompt shows: the operator's own words (a small lexicon per state) or
an earlier turn of the same conversation that failed. The reply is built from what the session
did next (the tool it called, with its arguments, or the answer it gave), never invented; a turn
whose next step was itself an error is not used. The prompt carries the conversation so far, tool
calls included, so every fact the answer names is in front of the model.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass

from services.harvester.base import Context, Draft, Skips
from services.harvester.session_formats import Conversation, ToolCall, Turn, parse_file, session_files

NAME = "affect"
MAX_CONTEXT_TURNS = 4
MAX_TURN_CHARS = 600

# state -> phrases that show it. Ordered: a message that is frustrated AND urgent is filed under
# the first state that matches, and the answer names the other one too.
CUES: dict[str, re.Pattern[str]] = {
    "frustration": re.compile(
        # the operator's own exasperation, not a bug report: "Dedup blows up when ..." or "v7 regressed in
        # production" describe the software calmly (rated 'unsupported_fact' when filed as frustration);
        # a report of a failure the assistant already tried to fix counts through the failed earlier turn
        r"\b(?:still (?:not|broken|failing|wrong|crash\w*)|again\b|keeps? (?:failing|crashing|breaking)|"
        r"ugh|annoying|seriously|come on|"
        r"useless|not what I (?:asked|meant)|wrong again|why (?:is|does) (?:it|this) (?:still|keep))",
        re.IGNORECASE),
    "urgency": re.compile(
        r"\b(?:asap|urgent\w*|right away|immediately|quick(?:ly)?|hurry|blocking|blocker|deadline|"
        r"in prod(?:uction)?|prod(?:uction)? is (?:down|broken)|before I merge|before the release)|"
        r"^\s*ping\s*\?*\s*$",
        re.IGNORECASE),
    "confusion": re.compile(
        r"\b(?:I don'?t (?:understand|get it)|confus\w*|what do you mean|makes no sense|unclear|"
        r"not sure (?:what|why|how)|"
        r"how come|I thought|huh\b|lost me|which one)|\?\?",
        re.IGNORECASE),
    "satisfaction": re.compile(
        r"\b(?:thanks|thank you|thx|great|perfect|works now|nice|awesome|excellent|looks good|lgtm|that'?s all|"
        r"well done|exactly what I)\b",
        re.IGNORECASE),
}

# how the state reads in plain words: what a reply should name
FEELS: dict[str, str] = {
    "frustration": "frustrated", "urgency": "under time pressure", "confusion": "confused, unsure what is going on",
    "satisfaction": "pleased and grateful",
}

HOW: dict[str, str] = {
    "frustration": "Acknowledge the problem in one plain sentence, without a long apology or excuses, then "
                   "fix it rather than explain it",
    "urgency": "Skip the preamble and act first; report the result in a line or two, details only if asked",
    "confusion": "Clear the confusion directly: answer the exact question in plain terms, without jargon the "
                 "operator has not used",
    "satisfaction": "Accept it briefly, do not pad the reply, and close the task or name the one next step",
}


@dataclass(frozen=True)
class Reading:
    state: str
    evidence: tuple[str, ...]  # quoted phrases from the message, or what an earlier turn shows
    also: tuple[str, ...] = ()  # other states the message shows


def call_text(call: ToolCall) -> str:
    args = json.dumps(call.arguments, sort_keys=True, ensure_ascii=False)
    return f"`{call.name}` with {args}"


def clip(text: str, n: int = MAX_TURN_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def transcript(turns: list[Turn]) -> str:
    """The conversation so far as the prompt shows it: requests, tool calls, answers and failures."""
    lines: list[str] = []
    for t in turns:
        lines.append(f"operator: {clip(t.user)}")
        for c in t.tool_calls:
            lines.append(f"assistant called {call_text(c)}")
        if t.error is not None:
            lines.append(f"(that turn failed: {t.error.replace('_', ' ')})")
        if t.answer:
            lines.append(f"assistant: {clip(t.answer)}")
    return "\n".join(lines)


def read_state(turn: Turn, before: list[Turn]) -> Reading | None:
    """The state `turn.user` shows, with its evidence, or None when nothing in view shows one."""
    found: dict[str, list[str]] = {}
    for state, pat in CUES.items():
        hits = list(dict.fromkeys(m.group(0).strip() for m in pat.finditer(turn.user)))
        if hits:
            found[state] = [f'"{h}"' for h in hits[:3]]
    failed = [t for t in before if t.error is not None]
    if failed and ("frustration" in found or _repeats(turn.user, failed[-1].user)):
        found.setdefault("frustration", []).append(
            f"the earlier request \"{clip(failed[-1].user, 80)}\" failed ({failed[-1].error.replace('_', ' ')})")
    if not found:
        return None
    states = list(found)
    evidence = [e for s in states for e in found[s]]
    return Reading(states[0], tuple(dict.fromkeys(evidence)), tuple(states[1:]))


def _repeats(a: str, b: str) -> bool:
    """The operator asks again for what failed: most of the earlier request's words come back."""
    wa, wb = set(re.findall(r"\w{3,}", a.lower())), set(re.findall(r"\w{3,}", b.lower()))
    return bool(wb) and len(wa & wb) / len(wb) >= 0.6


def next_step(turn: Turn) -> str | None:
    """What the session did about the message, as the reply's second half; None when it did nothing usable."""
    if turn.error is not None:
        return None
    if turn.tool_calls:
        calls = "; then ".join(call_text(c) for c in turn.tool_calls[:3])
        # what the call returned is not in the prompt (the parsed session keeps no tool results), so
        # the reply promises the report instead of quoting the logged one
        return f"Move the work on by calling {calls}, then report what it returned in a line or two."
    if turn.answer:
        return f"Then reply:\n\n{turn.answer.strip()}"
    return None


def affect_answer(r: Reading, step: str) -> str:
    evidence = "; ".join(r.evidence)
    also = f"; also {', '.join(r.also)}" if r.also else ""
    return (f"The operator is {FEELS[r.state]} ({r.state}{also}). What shows it: {evidence}.\n\n"
            f"How to address it: {HOW[r.state]}. {step}")


PROMPT = ("Here is an operator's conversation with the loop's assistant.\n\n{transcript}\n\n"
          "How does the operator feel in their last message, what shows it, and how should the assistant "
          "respond so the work moves on?")


def conversation_drafts(conv: Conversation, ctx: Context) -> Iterator[Draft]:
    for i, turn in enumerate(conv.turns):
        before = conv.turns[max(0, i - MAX_CONTEXT_TURNS):i]
        reading = read_state(turn, conv.turns[:i])
        if reading is None:
            continue
        step = next_step(turn)
        if step is None:
            ctx.skips.add(NAME, "no_usable_reply")
            continue
        shown = transcript([*before, Turn(user=turn.user)])
        yield Draft(generator=NAME, task="affect", source=conv.source, session_id=conv.session_id,
                    hint=reading.state,
                    messages=(("user", PROMPT.format(transcript=shown)), ("assistant", affect_answer(reading, step))))


def conversations(ctx: Context, generator: str) -> Iterator[Conversation]:
    """Every conversation of the plan's session files (those not mined before), parsed whole."""
    path = ctx.plan.sessions
    if path is None:
        return
    root = path if path.is_dir() else path.parent
    for f in session_files(path):
        try:
            data = f.read_bytes()
        except OSError:
            ctx.skips.add(generator, "unreadable")
            continue
        if hashlib.sha256(data).hexdigest() in ctx.plan.seen_sessions:
            continue  # mined before for this specialist (the sessions generator counts it)
        # its own counter: the sessions generator already counts malformed lines of the same files
        yield from parse_file(f, root, Skips(), data)


class Affect:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        for conv in conversations(ctx, NAME):
            yield from conversation_drafts(conv, ctx)
