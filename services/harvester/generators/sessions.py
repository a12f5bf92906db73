"""Session logs → whole conversations, intent classification and tool-use examples.

A conversation is kept whole, as one multi-turn example in OpenAI's shape: the assistant's tool
calls and the tool results stay in it, so an answer that reports what a tool returned is backed
by the call in the same example. A turn whose text claims an action ran ("Done: restart ran",
"I restarted ...") with no tool call before it in the example is dropped and counted, and so is a
turn whose answer reports what nothing in the example shows (details after a bare "done"/"ok" tool
result; measured-looking figures with no tool result), and errored, interrupted and empty turns:
the conversation is cut around them, never trained on.
Labels come from what actually happened in the session: the tool the assistant called, or the
specialist it routed to; only a turn with neither falls back to keywords in the request. A request
gets one intent label however many logs (and formats) it appears in: the best-evidenced one.
Tool-use prompts carry every known tool with its argument schema (session_tools). A turn with a
worked rationale (logged reasoning, or numbered steps before a conclusion) also yields a think
draft; core renders it in the base model's think tags. Files whose sha256 is in the plan's
`seen_sessions` are skipped (`sessions:unchanged`); the hashes of the files mined are reported.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from services.harvester.base import Context, Draft
from services.harvester.generators import session_tools
from services.harvester.session_formats import Conversation, ToolCall, Turn, parse_file, session_files
from shared.events import ChatMessage, ToolFunction
from shared.events import ToolCall as ChatToolCall
from shared.specialists import specialists

NAME = "sessions"


def intent_system() -> str:
    routes = " | ".join(f'"{s}"' for s in specialists().names)
    return f'Classify the operator\'s request. Reply with JSON: {{"route": {routes}, "intent": "<what to do>"}}.'


TOOL_SYSTEM = 'Call one tool for the request. Reply only with JSON {"name": ..., "arguments": {...}}. Tools: '
TOOLS_INTRO = "The tools you can call, as OpenAI function schemas:\n"
# A claim that an action was carried out: only true when the call is in the same example.
_CLAIM = re.compile(
    r"(?:^|[.!?;]\s+|\n)\s*(?:done\b|(?:I\s+(?:have\s+|'ve\s+|just\s+)?)?(?:re)?(?:started|restarted|stopped|ran|"
    r"rolled\b(?:\s+\S+){0,3}\s+back|reverted|deployed|triggered|launched|kicked\s+off|killed|merged|pushed|"
    r"deleted|created|promoted|scheduled|applied|installed|executed|rebuilt|reloaded)\b)"
    r"|\b[\w.-]+\s+(?:ran|was\s+run|has\s+been\s+(?:run|restarted|started))\b", re.IGNORECASE)
_ROUTING = re.compile(r"route|delegate|handoff|hand_off|dispatch|ask_(?:coder|reasoner)", re.IGNORECASE)
_CODE = re.compile(r"\b(?:code|function|bug|fix|refactor|implement|test|class|module|python|diff|patch|"
                   r"stack ?trace|exception|compile|lint)\b", re.IGNORECASE)
_REASON = re.compile(r"\b(?:why|prove|calculate|compute|estimate|how many|probability|math|reason|"
                     r"derive|compare|trade-?offs?)\b", re.IGNORECASE)

_STEP = re.compile(r"^\s*(?:\d+[.)]\s|step\s*\d+\b|first(?:ly)?,|then,|next,|finally,)", re.IGNORECASE | re.MULTILINE)
_CONCLUSION = re.compile(r"(?:so|therefore|thus|hence|in short|answer:|the answer is|final answer)\b", re.IGNORECASE)


def tool_system(tools: dict[str, dict]) -> str:
    """The one-call instruction with every known tool and its argument schema."""
    return TOOL_SYSTEM.removesuffix("Tools: ").rstrip() + "\n" + TOOLS_INTRO + session_tools.render(tools.values())


def claims_action(text: str) -> bool:
    return bool(_CLAIM.search(text))


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


def _intent(route: str) -> str:
    # one vocabulary whatever the evidence: a request for another specialist is a delegation
    return "answer" if route == "orchestrator" else f"delegate_to_{route}"


def labelled(turn: Turn, routed: str | None = None) -> tuple[str, str, int]:
    """(route, intent, evidence) for a turn: from its tool calls first (3), then the specialist a
    router served it with (2), then from the request's words (1). The evidence picks one label for
    a request seen in several logs."""
    for call in turn.tool_calls:
        if (route := route_of(call)) is not None:
            return route, _intent(route), 3
    if routed in specialists():
        return routed, _intent(routed), 2
    if turn.tool_calls:
        return "orchestrator", turn.tool_calls[0].name, 3
    if _CODE.search(turn.user):
        return "coder", _intent("coder"), 1
    if _REASON.search(turn.user):
        return "reasoner", _intent("reasoner"), 1
    return "orchestrator", "answer", 1


def label(turn: Turn, routed: str | None = None) -> tuple[str, str]:
    """(route, intent) for a turn; see `labelled`."""
    route, intent, _ = labelled(turn, routed)
    return route, intent


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


def intent_draft(conv: Conversation, turn: Turn, route: str, intent: str) -> Draft:
    return Draft(task="intent", generator=NAME, source=conv.source, session_id=conv.session_id, hint=route,
                 messages=(("system", intent_system()), ("user", turn.user),
                           ("assistant", json.dumps({"route": route, "intent": intent}))))


def turn_drafts(conv: Conversation, turn: Turn, tools: list[str] | dict[str, dict],
                skips: object | None = None) -> Iterator[Draft]:
    """One turn's single-step drafts: its intent label, its first tool call (with every known
    tool's schema in the prompt) and a think draft from its logged or step-by-step rationale."""
    # the router's route applies to the request it served: the conversation's last turn
    route, intent = label(turn, conv.route if turn is conv.turns[-1] else None)
    where = dict(generator=NAME, source=conv.source, session_id=conv.session_id, hint=route)
    yield intent_draft(conv, turn, route, intent)
    schemas = tools if isinstance(tools, dict) else {n: {"name": n, "description": "", "parameters": {
        "type": "object", "properties": {}}} for n in tools}
    if turn.tool_calls:
        call = turn.tool_calls[0]
        yield Draft(task="tool_call",
                    messages=(("system", tool_system(schemas)), ("user", turn.user), ("assistant", tool_json(call))),
                    **where)
    if not turn.answer:
        return
    if turn.tool_calls:
        # the answer reports what the tools returned: outside the whole conversation it is unbacked
        if turn.thinking or split_rationale(turn.answer) is not None:
            _count(skips, "think_needs_tool_results")
        return
    sys_msg = (("system", turn.system),) if turn.system else ()
    # A worked rationale, kept apart from the answer: think-format training data, rendered in the
    # base model's own think tags by core (or dropped when it has none).
    if turn.thinking:  # the logged reasoning (thinking blocks, reasoning_content, inline tags)
        yield Draft(task="session_turn", format="think", thought="\n\n".join(turn.thinking),
                    messages=(*sys_msg, ("user", turn.user), ("assistant", turn.answer)), **where)
    elif (split := split_rationale(turn.answer)) is not None:  # explained step by step, then answered
        thought, final = split
        yield Draft(task="session_turn", format="think", thought=thought,
                    messages=(*sys_msg, ("user", turn.user), ("assistant", final)), **where)


def _count(skips: object | None, reason: str) -> None:
    if skips is not None:
        skips.add(NAME, reason)  # type: ignore[attr-defined]


def unbacked_claim(turn: Turn, called_before: bool) -> bool:
    """Does an assistant message of `turn` claim an action with no tool call before it?"""
    called = called_before
    for step in turn.steps:
        if step.role == "assistant":
            if step.content and not called and claims_action(step.content):
                return True
            called = called or bool(step.calls)
    return False


# A tool result that only acknowledges ("done", "ok", `{"status": "ok"}`): it carries no facts to report.
_ACK = re.compile(r'^\W*(?:done|ok|okay|success|succeeded|accepted|queued|true|null|none|\{\s*\}|\[\s*\]|'
                  r'\{\s*"(?:status|result)"\s*:\s*"(?:ok|done|success)"\s*\})?\W*$', re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][\w-]{3,}")
# A figure a reader would take as measured: a decimal or a thousands-grouped number.
_FIGURE = re.compile(r"(?<![\w.])\d{1,3}(?:,\d{3})+(?![\w,])|(?<![\w.])\d+\.\d+(?![\w.])")
_ARITHMETIC = re.compile(r"\d\s*[×x*/+\-=]\s*\d")
_COMMON = frozenset("""that this with from have been were will would could should there their they them then than
what when where which while about after before into onto over under only also just each every some more most
such very does done your yours here make made like sure both either neither other another because since""".split())
# After a bare acknowledgement, an answer may confirm, but not report what the tool never said: past this
# share of content words absent from everything before it, it describes work it cannot have seen.
NEW_WORDS_AFTER_ACK = 0.3
SHORT_CONFIRMATION = 8  # content words: "Routed to the coder; it reports done." needs no backing


def _content_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.lower() not in _COMMON]


def ungrounded_report(turn: Turn, before: str) -> str | None:
    """Why the turn's final answer reports facts the example does not contain, or None.

    `unreported_after_ack`: the only tool result is an acknowledgement ("done", "ok") and the answer
    goes on to describe what was done (a test's name, how a function behaves). `unbacked_figures`:
    no tool result at all, and the answer quotes measured-looking figures (0.78, 3,214) that nothing
    before it shows and it does not compute. A hand-read sample found both in shipped sessions.
    """
    answer = turn.answer
    if not answer:
        return None
    results = [s.content for s in turn.steps if s.role == "tool"]
    seen = " ".join([before, turn.system or "", turn.user, *(s.content for s in turn.steps if s.role == "tool"),
                     *(json.dumps(c.arguments, ensure_ascii=False) for c in turn.tool_calls),
                     *(s.content for s in turn.steps if s.role == "assistant" and s.content.strip() != answer.strip())])
    seen_words = set(_content_words(seen))
    if results and all(_ACK.match(r or "") for r in results):
        words = _content_words(answer)
        new = [w for w in words if w not in seen_words]
        if len(words) > SHORT_CONFIRMATION and len(new) > NEW_WORDS_AFTER_ACK * len(words):
            return "unreported_after_ack"
    if not results and not _ARITHMETIC.search(answer):
        if any(f not in seen for f in _FIGURE.findall(answer)):
            return "unbacked_figures"
    return None


def _turn_text(turn: Turn) -> str:
    return " ".join([turn.user, *(s.content for s in turn.steps),
                     *(json.dumps(c.arguments, ensure_ascii=False) for c in turn.tool_calls)])


def segments(conv: Conversation, ctx: Context) -> Iterator[list[Turn]]:
    """Runs of trainable turns: an errored, empty or unbacked turn is counted and cuts the
    conversation there (what follows may refer to it, so it starts a new run)."""
    run: list[Turn] = []
    for turn in conv.turns:
        reason = turn.error
        if reason is None and not turn.answer and not turn.tool_calls:
            reason = "empty_answer"
        if reason is None and unbacked_claim(turn, any(t.tool_calls for t in run)):
            reason = "unbacked_tool_claim"
        if reason is None and (ungrounded := ungrounded_report(turn, " ".join(_turn_text(t) for t in run))):
            # the request and the call are real: its intent label and tool call stay; its answer goes
            ctx.skips.add(NAME, ungrounded)
            if run:
                yield run
            yield [Turn(user=turn.user, system=turn.system, tool_calls=turn.tool_calls, steps=[
                s for s in turn.steps if not (s.role == "assistant" and s.content.strip() and not s.calls)])]
            run = []
            continue
        if reason is not None:
            ctx.skips.add(NAME, reason)
            if run:
                yield run
            run = []
            continue
        run.append(turn)
    if run:
        yield run


def _chat_call(c: ToolCall) -> ChatToolCall:
    return ChatToolCall(id=c.id or "call_0", function=ToolFunction(
        name=c.name, arguments=json.dumps(c.arguments, sort_keys=True, ensure_ascii=False)))


def conversation_chat(turns: list[Turn], tools: dict[str, dict]) -> tuple[ChatMessage, ...] | None:
    """The turns as OpenAI messages, ending on the last assistant message with text (None if none)."""
    used = sorted({c.name for t in turns for c in t.tool_calls})
    system = turns[0].system or ""
    if used:  # the tools the model could call, with their schemas, as a chat API would send them
        shown = {n: tools[n] for n in tools} if tools else {}
        system = f"{system}\n\n{TOOLS_INTRO}{session_tools.render(shown.values())}".strip()
    msgs: list[ChatMessage] = [ChatMessage(role="system", content=system)] if system else []
    for t in turns:
        msgs.append(ChatMessage(role="user", content=t.user))
        for step in t.steps:
            if step.role == "assistant":
                calls = tuple(_chat_call(c) for c in step.calls) or None
                msgs.append(ChatMessage(role="assistant", content=step.content, tool_calls=calls))
            else:
                msgs.append(ChatMessage(role="tool", content=step.content, tool_call_id=step.call_id or None))
    while msgs and not (msgs[-1].role == "assistant" and msgs[-1].content.strip()):
        msgs.pop()  # a trailing call with no answer after it teaches nothing to end on
    return tuple(msgs) if any(m.role == "user" for m in msgs) else None


def conversation_draft(conv: Conversation, turns: list[Turn], tools: dict[str, dict]) -> Draft | None:
    chat = conversation_chat(turns, tools)
    if chat is None:
        return None
    route, _ = label(turns[-1], conv.route if turns[-1] is conv.turns[-1] else None)
    return Draft(task="session_turn", generator=NAME, source=conv.source, session_id=conv.session_id, hint=route,
                 messages=tuple((m.role, m.content) for m in chat), chat=chat)


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
        convs: list[Conversation] = []
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
            convs.extend(parse_file(f, root, ctx.skips, data))
        tools = session_tools.registry(ctx.plan.tool_specs, convs)
        # one label per request, whatever log or format it came from: the best-evidenced one
        intents: dict[str, list[tuple[int, str, str, Draft]]] = {}
        for conv in convs:
            for run in segments(conv, ctx):
                for turn in run:
                    route, intent, evidence = labelled(turn, conv.route if turn is conv.turns[-1] else None)
                    key = " ".join(turn.user.lower().split())
                    intents.setdefault(key, []).append((evidence, route, intent,
                                                        intent_draft(conv, turn, route, intent)))
                    yield from (d for d in turn_drafts(conv, turn, tools, ctx.skips) if d.task != "intent")
                if (d := conversation_draft(conv, run, tools)) is not None:
                    yield d
        for seen in intents.values():
            best = max(e for e, *_ in seen)
            votes = Counter((r, i) for e, r, i, _ in seen if e == best)
            route, intent = votes.most_common(1)[0][0]
            first = next(d for e, r, i, d in seen if (r, i) == (route, intent))
            if len(seen) > 1:
                ctx.skips.add(NAME, "intent_same_request", len(seen) - 1)
            yield first
