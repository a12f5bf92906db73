"""Session logs → intent classification, tool-use and orchestration/coding turn examples.

Labels come from what actually happened in the session: the tool the assistant called, or the
specialist it routed to; only a turn with neither falls back to keywords in the request.
Errored, interrupted and empty turns are dropped and counted, never trained on. A turn with a
worked rationale (logged reasoning, or numbered steps before a conclusion) also yields a think
draft; core renders it in the base model's think tags. Files whose sha256 is in the plan's
`seen_sessions` are skipped (`sessions:unchanged`); the hashes of the files mined are reported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from services.harvester.base import Context, Draft
from services.harvester.session_formats import Conversation, ToolCall, Turn, parse_file, session_files
from shared.specialists import specialists

NAME = "sessions"


def intent_system() -> str:
    routes = " | ".join(f'"{s}"' for s in specialists().names)
    return f'Classify the operator\'s request. Reply with JSON: {{"route": {routes}, "intent": "<what to do>"}}.'


TOOL_SYSTEM = 'Call one tool for the request. Reply only with JSON {"name": ..., "arguments": {...}}. Tools: '
_ROUTING = re.compile(r"route|delegate|handoff|hand_off|dispatch|ask_(?:coder|reasoner)", re.IGNORECASE)
_CODE = re.compile(r"\b(?:code|function|bug|fix|refactor|implement|test|class|module|python|diff|patch|"
                   r"stack ?trace|exception|compile|lint)\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:why|prove|calculate|compute|estimate|how many|probability|math|reason|"
                     r"derive|compare|trade-?offs?)\b", re.IGNORECASE)

_STEP = re.compile(r"^\s*(?:\d+[.)]\s|step\s*\d+\b|first(?:ly)?,|then,|next,|finally,)", re.IGNORECASE | re.MULTILINE)
_CONCLUSION = re.compile(r"(?:so|therefore|thus|hence|in short|answer:|the answer is|final answer)\b", re.IGNORECASE)


def route_of(call: ToolCall) -> str | None:
    """The specialist a routing tool call sends the request to, if it is one."""
    if not _ROUTING.search(call.name):
        return None
    for key in ("specialist", "to", "target", "agent", "route"):
        val = str(call.arguments.get(key, "")).lower()
        if val in specialists():
            return val
    return next((s for s in specialists().names if s in call.name.lower()), None)


def tool_json(call: ToolCall) -> str:
    """`{"name": ..., "arguments": {...}}` with name first and arguments in sorted order (deterministic)."""
    args = json.loads(json.dumps(call.arguments, sort_keys=True, ensure_ascii=False))
    return json.dumps({"name": call.name, "arguments": args}, ensure_ascii=False)


def label(turn: Turn, routed: str | None = None) -> tuple[str, str]:
    """(route, intent) for a turn, from its tool calls first, then the specialist a router served
    it with (`routed`), then from the request's words."""
    for call in turn.tool_calls:
        if (route := route_of(call)) is not None:
            return route, f"delegate_to_{route}"
    if routed in specialists():
        return routed, f"delegate_to_{routed}" if routed != "orchestrator" else "answer"
    if turn.tool_calls:
        return "orchestrator", turn.tool_calls[0].name
    if _CODE.search(turn.user):
        return "coder", "coding_question"
    if _REASON.search(turn.user):
        return "reasoner", "reasoning_question"
    return "orchestrator", "answer"


def split_rationale(answer: str) -> tuple[str, str] | None:
    """(rationale, conclusion) of an answer that works through numbered steps and then concludes
    ("So ...", "Therefore ...", "Answer: ..."); None for any other answer (conservative)."""
    paras = [p.strip() for p in re.split(r"\n\s*\n", answer.strip()) if p.strip()]
    if len(paras) < 2 or "```" in answer or not _CONCLUSION.match(paras[-1]):
        return None
    rationale = "\n\n".join(paras[:-1])
    if len(_STEP.findall(rationale)) < 2:
        return None
    return rationale, paras[-1]


def turn_drafts(conv: Conversation, turn: Turn, tools: list[str]) -> Iterator[Draft]:
    # the router's route applies to the request it served: the conversation's last turn
    route, intent = label(turn, conv.route if turn is conv.turns[-1] else None)
    where = dict(generator=NAME, source=conv.source, session_id=conv.session_id, hint=route)
    yield Draft(task="intent",
                messages=(("system", intent_system()), ("user", turn.user),
                          ("assistant", json.dumps({"route": route, "intent": intent}))),
                **where)
    if turn.tool_calls:
        call = turn.tool_calls[0]
        system = TOOL_SYSTEM + ", ".join(tools) + "."
        yield Draft(task="tool_call",
                    messages=(("system", system), ("user", turn.user),
                              ("assistant", tool_json(call))),
                    **where)
    if turn.answer:
        sys_msg = (("system", turn.system),) if turn.system else ()
        yield Draft(task="session_turn", messages=(*sys_msg, ("user", turn.user), ("assistant", turn.answer)),
                    **where)
        # A worked rationale, kept apart from the answer: think-format training data, rendered in
        # the base model's own think tags by core (or dropped when it has none).
        if turn.thinking:  # the logged reasoning (thinking blocks, reasoning_content, inline tags)
            yield Draft(task="session_turn", format="think", thought="\n\n".join(turn.thinking),
                        messages=(*sys_msg, ("user", turn.user), ("assistant", turn.answer)), **where)
        elif (split := split_rationale(turn.answer)) is not None:  # explained step by step, then answered
            thought, final = split
            yield Draft(task="session_turn", format="think", thought=thought,
                        messages=(*sys_msg, ("user", turn.user), ("assistant", final)), **where)


def session_digests(path: Path) -> dict[str, str]:
    """sha256 of every session file under `path` (unreadable ones left out): what the adapter
    looks up in its KV to tell a plan which files were mined before."""
    out: dict[str, str] = {}
    for f in session_files(path):
        try:
            out[str(f)] = hashlib.sha256(f.read_bytes()).hexdigest()
        except OSError:
            continue
    return out


class Sessions:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        path = ctx.plan.sessions
        if path is None:
            return
        root = path if path.is_dir() else path.parent
        for f in session_files(path):
            # Incremental: a file whose content was mined before is skipped (its hash is the key,
            # so an appended-to or edited log is mined again; a renamed one is not).
            try:
                data = f.read_bytes()
            except OSError:
                ctx.skips.add(NAME, "unreadable")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest in ctx.plan.seen_sessions:
                ctx.skips.add(NAME, "unchanged")
                continue
            ctx.session_hashes[str(f)] = digest
            for conv in parse_file(f, root, ctx.skips, data):
                tools = sorted({c.name for t in conv.turns for c in t.tool_calls})
                for turn in conv.turns:
                    if turn.error is not None:
                        ctx.skips.add(NAME, turn.error)
                    elif not turn.answer and not turn.tool_calls:
                        ctx.skips.add(NAME, "empty_answer")
                    else:
                        yield from turn_drafts(conv, turn, tools)
