"""A small corpus with every kind of example an export must handle, built in the test."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from services.harvester.generators.sessions import TOOL_SYSTEM
from services.judge.corpus import Corpus
from shared.events import Example, Provenance

T0 = datetime(2025, 3, 1, tzinfo=UTC)
T1 = datetime(2025, 3, 8, tzinfo=UTC)
SPECIALIST = "orchestrator"


def ex(messages: list[tuple[str, str]], *, category: str = "architecture", generator: str = "ast_code",
       fmt: str = "chat", **prov: object) -> Example:
    prov.setdefault("source", prov.get("path") or "test")
    return Example.build(specialist=SPECIALIST, category=category, generator=generator, messages=messages,
                         provenance=Provenance(**prov), format=fmt)  # type: ignore[arg-type]


def tool_call(user: str, name: str, args: dict[str, object], tools: str = "search, open_file, run_tests") -> Example:
    return ex([("system", TOOL_SYSTEM + tools + "."), ("user", user),
               ("assistant", json.dumps({"name": name, "arguments": args}))],
              category="tool_use", generator="sessions", session_id=f"s-{name}", source="sessions/a.jsonl")


def file_examples(n: int) -> list[Example]:
    """`n` files with two function explanations each (no commit: mined at HEAD)."""
    out = []
    for i in range(n):
        for fn in ("load", "save"):
            out.append(ex([("user", f"What does `{fn}_{i}` in pkg/m{i}.py do?"),
                           ("assistant", f"`{fn}_{i}` reads the {fn} table number {i} and returns it.")],
                          path=f"pkg/m{i}.py", lines=(10, 20) if fn == "load" else (30, 40)))
    return out


def commit_examples(n: int) -> list[Example]:
    """`n` commits with a review and a commit message each (different files per example)."""
    out = []
    for i in range(n):
        sha = f"{i:02x}" * 20
        out.append(ex([("user", f"Review this diff of pkg/m{i}.py:\n-a\n+b {i}"), ("assistant", f"Looks right {i}.")],
                      category="code_review", generator="git_diffs", commit=sha, path=f"pkg/m{i}.py",
                      source=f"commit:{sha}"))
        out.append(ex([("user", f"Write the commit message for change {i}."), ("assistant", f"Fix the parser {i}")],
                      category="code_review", generator="git_diffs", commit=sha, path=f"pkg/other{i}.py",
                      source=f"commit:{sha}"))
    return out


def session_examples(n: int) -> list[Example]:
    """`n` sessions, each an intent example, a plain answer and the same answer with its reasoning."""
    out = []
    for i in range(n):
        sid = f"session-{i}"
        where = dict(generator="sessions", session_id=sid, source=f"sessions/{sid}.jsonl")
        user = f"Why does cycle {i} retrain?"
        answer = f"Because {i} new examples arrived."
        out.append(ex([("system", "Classify the request."), ("user", user),
                       ("assistant", json.dumps({"route": "orchestrator", "intent": "answer"}))],
                      category="intent_classification", **where))
        out.append(ex([("user", user), ("assistant", answer)], category="orchestration", **where))
        out.append(ex([("user", user), ("assistant", f"<think>\nCount the new ones: {i}.\n</think>\n\n{answer}")],
                      category="orchestration", fmt="think", **where))
    return out


def external_examples(n: int, path: str = "data/alpaca_cleaned.jsonl") -> list[Example]:
    return [ex([("user", f"Give a synonym for word {i}."), ("assistant", f"Term {i}.")], category="conciseness",
               generator="external", path=path, lines=(i + 1, i + 1), source=path.rsplit("/", 1)[-1])
            for i in range(n)]


def fim_example() -> Example:
    return ex([("user", "<fim_prefix>def f(x):\n<fim_suffix>\n    return y\n<fim_middle>"),
               ("assistant", "    y = x + 1")], fmt="fim", path="pkg/fim.py", lines=(1, 3))


def multi_turn_example() -> Example:
    return ex([("user", "Which service trains?"), ("assistant", "The trainer."), ("user", "And who evaluates?"),
               ("assistant", "The evaluator.")], category="orchestration", generator="sessions",
              session_id="session-multi", source="sessions/multi.jsonl")


def make_corpus() -> Corpus:
    """Two versions of growth and one of retirement: live examples of every kind, three retired."""
    first = [*file_examples(6), *commit_examples(6), *session_examples(6)]
    second = [*external_examples(8), tool_call("find the retry code", "search", {"query": "retry backoff"}),
              tool_call("open the bus", "open_file", {"path": "shared/bus.py"}), fim_example(),
              multi_turn_example()]
    retired = ex([("user", "What did old_fn do?"), ("assistant", "It was removed later on.")], path="pkg/gone.py",
                 lines=(1, 2))
    contaminated = ex([("user", "Write a function that adds two numbers."), ("assistant", "def add(a, b): ...")],
                      path="pkg/add.py", lines=(1, 2))
    c = Corpus(specialist=SPECIALIST, decontamination_index="idx-0123456789abcdef")
    c = c.add([*first, retired, contaminated], cycle_id="cycle-1", now=T0).mark_trained()
    c = c.add(second, cycle_id="cycle-2", now=T1)
    return c.retire({retired.id: "source_gone:pkg/gone.py", contaminated.id: "contaminated:humaneval:HumanEval/53"},
                    now=T1)


SEARCH_TOOL = {"name": "search", "description": "Search the repository for text.",
               "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "the text"}},
                              "required": ["query"]}}
OPEN_TOOL = {"name": "open_file", "description": "Open a file of the repository.",
             "parameters": {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}}


def tool_session_example() -> Example:
    """A whole session in OpenAI's shape, as the sessions generator keeps it: the tools with their
    schemas in the system turn, a text-plus-call turn, two parallel calls, their results, an answer."""
    from services.harvester.generators import session_tools
    from services.harvester.generators.sessions import TOOLS_INTRO
    from shared.events import ChatMessage, ToolCall, ToolFunction

    def call(cid: str, name: str, args: dict[str, object]) -> ToolCall:
        return ToolCall(id=cid, function=ToolFunction(name=name, arguments=json.dumps(args)))

    system = f"You help with this repository.\n\n{TOOLS_INTRO}{session_tools.render([SEARCH_TOOL, OPEN_TOOL])}"
    msgs = [
        ChatMessage(role="system", content=system),
        ChatMessage(role="user", content="Where is the retry backoff, and what does the bus do?"),
        ChatMessage(role="assistant", content="Let me look.",
                    tool_calls=(call("toolu_01", "search", {"query": "retry backoff"}),)),
        ChatMessage(role="tool", content="shared/bus.py:42: def backoff(attempt):", tool_call_id="toolu_01"),
        ChatMessage(role="assistant", content="", tool_calls=(call("toolu_02", "open_file", {"path": "shared/bus.py"}),
                                                              call("toolu_03", "search", {"query": "nak("}))),
        ChatMessage(role="tool", content="\"\"\"The bus: JetStream publish and pull.\"\"\"", tool_call_id="toolu_02"),
        ChatMessage(role="tool", content="shared/bus.py:88: await msg.nak(delay=d)", tool_call_id="toolu_03"),
        ChatMessage(role="assistant", content="The backoff is `backoff` in shared/bus.py (line 42); the bus "
                                              "publishes to JetStream and naks failed messages with that delay."),
    ]
    return Example.build(specialist=SPECIALIST, category="tool_use", generator="sessions", messages=msgs,
                         provenance=Provenance(source="sessions/tools.jsonl", session_id="session-tools"))
