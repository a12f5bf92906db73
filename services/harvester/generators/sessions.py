"""Session logs → intent classification, tool-use and orchestration/coding turn examples.

Labels come from what actually happened in the session: the tool the assistant called, or the
specialist it routed to; only a turn with neither falls back to keywords in the request.
Errored, interrupted and empty turns are dropped and counted, never trained on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from services.harvester.base import Context, Draft
from services.harvester.session_formats import Conversation, ToolCall, Turn, parse_file, session_files

NAME = "sessions"
SPECIALISTS = ("orchestrator", "coder", "reasoner")
INTENT_SYSTEM = (
    "Classify the operator's request. Reply with JSON: "
    '{"route": "orchestrator" | "coder" | "reasoner", "intent": "<what to do>"}.'
)
TOOL_SYSTEM = 'Call one tool for the request. Reply only with JSON {"name": ..., "arguments": {...}}. Tools: '
_ROUTING = re.compile(r"route|delegate|handoff|hand_off|dispatch|ask_(?:coder|reasoner)", re.IGNORECASE)
_CODE = re.compile(r"\b(?:code|function|bug|fix|refactor|implement|test|class|module|python|diff|patch|"
                   r"stack ?trace|exception|compile|lint)\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:why|prove|calculate|compute|estimate|how many|probability|math|reason|"
                     r"derive|compare|trade-?offs?)\b", re.IGNORECASE)


def route_of(call: ToolCall) -> str | None:
    """The specialist a routing tool call sends the request to, if it is one."""
    if not _ROUTING.search(call.name):
        return None
    for key in ("specialist", "to", "target", "agent", "route"):
        val = str(call.arguments.get(key, "")).lower()
        if val in SPECIALISTS:
            return val
    return next((s for s in SPECIALISTS if s in call.name.lower()), None)


def tool_json(call: ToolCall) -> str:
    """`{"name": ..., "arguments": {...}}` with name first and arguments in sorted order (deterministic)."""
    args = json.loads(json.dumps(call.arguments, sort_keys=True, ensure_ascii=False))
    return json.dumps({"name": call.name, "arguments": args}, ensure_ascii=False)


def label(turn: Turn) -> tuple[str, str]:
    """(route, intent) for a turn, from its tool calls first, then from the request's words."""
    for call in turn.tool_calls:
        if (route := route_of(call)) is not None:
            return route, f"delegate_to_{route}"
    if turn.tool_calls:
        return "orchestrator", turn.tool_calls[0].name
    if _CODE.search(turn.user):
        return "coder", "coding_question"
    if _REASON.search(turn.user):
        return "reasoner", "reasoning_question"
    return "orchestrator", "answer"


def turn_drafts(conv: Conversation, turn: Turn, tools: list[str]) -> Iterator[Draft]:
    route, intent = label(turn)
    where = dict(generator=NAME, source=conv.source, session_id=conv.session_id, hint=route)
    yield Draft(task="intent",
                messages=(("system", INTENT_SYSTEM), ("user", turn.user),
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
        if turn.thinking:
            # The logged reasoning, kept apart from the answer: think-format training data.
            thought = "\n\n".join(turn.thinking)
            yield Draft(task="session_turn", format="think",
                        messages=(*sys_msg, ("user", turn.user),
                                  ("assistant", f"<think>\n{thought}\n</think>\n\n{turn.answer}")),
                        **where)


class Sessions:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        path = ctx.plan.sessions
        if path is None:
            return
        root = path if path.is_dir() else path.parent
        for f in session_files(path):
            for conv in parse_file(f, root, ctx.skips):
                tools = sorted({c.name for t in conv.turns for c in t.tool_calls})
                for turn in conv.turns:
                    if turn.error is not None:
                        ctx.skips.add(NAME, turn.error)
                    elif not turn.answer and not turn.tool_calls:
                        ctx.skips.add(NAME, "empty_answer")
                    else:
                        yield from turn_drafts(conv, turn, tools)
