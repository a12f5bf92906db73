"""Which specialist answers a request for model `auto`: an effort estimate, a code decision, a rule table.

    est = estimate(body["messages"], tools=body.get("tools"), effort_header=headers.get("x-ouro-effort"))
    choose(est, specialists())          # "coder"

Pure functions over the request; the rules are data (each specialist's `routing` in the specialist
file, the seed rule by default). The estimate is a heuristic on purpose: it runs on every request,
before any model, so it must cost microseconds; what the router routed is logged back into the loop
(`sessions.new` with the specialist and effort), where the orchestrator learns routing from it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from shared.specialists import SpecialistSet

EFFORT_MIN, EFFORT_MAX = 1, 10

_FENCE = re.compile(r"```|~~~")
_CODE_LINE = re.compile(
    r"^\s*(?:def |class |import |from \S+ import |async def |function |const |let |var |#include|"
    r"public |private |fn |func |package |SELECT |CREATE TABLE )|Traceback \(most recent call last\)|"
    r"^\s*at \S+\(\S+:\d+\)|[;{]\s*$",
    re.MULTILINE,
)
_CODE_WORDS = re.compile(
    r"\b(?:code|function|bug|refactor|implement|unit tests?|compile[rsd]?|stack ?trace|exception|regex|"
    r"sql|python|javascript|typescript|rust|golang|java|c\+\+|snippet|script|api endpoint|lint|"
    r"segfault|null pointer|diff|patch)\b",
    re.IGNORECASE,
)
# Asking for a worked derivation: the reasoner's job whatever the length.
_DEEP = re.compile(
    r"\b(?:prove|proof|derive|derivation|step[- ]by[- ]step|rigorous(?:ly)?|formally|think (?:hard|carefully)|"
    r"show that|theorem|lemma)\b",
    re.IGNORECASE,
)
_MATH = re.compile(
    r"\b(?:probability|integral|derivative|equation|expected value|variance|matrix|eigen\w*|modulo|"
    r"combinatori\w*|how many ways)\b|\d\s*[-+*/^=]\s*\d",
    re.IGNORECASE,
)
_ANALYSIS = re.compile(
    r"\b(?:why|calculate|compute|compare|trade-?offs?|analy[sz]e|design|plan|estimate|optimi[sz]e|"
    r"evaluate|pros and cons|explain how)\b",
    re.IGNORECASE,
)


class RoutingError(ValueError):
    """The request says something the router cannot honour (a bad `X-Ouro-Effort`)."""


@dataclass(frozen=True)
class Estimate:
    effort: int
    code: bool
    why: tuple[str, ...] = ()  # what moved the estimate: for logs and tests


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # OpenAI content parts
        return "\n".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def estimate(messages: list[dict[str, Any]], *, tools: Any = None, effort_header: str | None = None) -> Estimate:
    """Effort 1-10 and code yes/no for a chat request.

    Effort grows with the length of the last user turn (1 + one per 20 / 80 / 250 / 800 words),
    a worked derivation (+6), mathematics (+3), analysis (+2) and a long conversation (+1); an
    explicit `X-Ouro-Effort` replaces it. Code: a fenced block, lines that look like code or a
    traceback, or code words in the last user turn. Tool definitions make it the orchestrator's
    kind of request (tool use), so they count as no code.
    """
    users = [_text(m.get("content")) for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    last = users[-1] if users else ""
    everything = "\n".join(_text(m.get("content")) for m in messages if isinstance(m, dict))
    why: list[str] = []

    words = len(last.split())
    effort = 1 + sum(words >= n for n in (20, 80, 250, 800))
    if words >= 20:
        why.append(f"length:{words}")
    for pattern, weight, name in ((_DEEP, 6, "derivation"), (_MATH, 3, "math"), (_ANALYSIS, 2, "analysis")):
        if pattern.search(last):
            effort += weight
            why.append(name)
    if len(users) > 3:
        effort += 1
        why.append("long_conversation")
    effort = max(EFFORT_MIN, min(EFFORT_MAX, effort))

    if effort_header is not None:
        try:
            effort = int(effort_header.strip())
        except ValueError:
            raise RoutingError(f"X-Ouro-Effort must be an integer 1-10, got {effort_header!r}") from None
        if not EFFORT_MIN <= effort <= EFFORT_MAX:
            raise RoutingError(f"X-Ouro-Effort must be an integer 1-10, got {effort}")
        why.append("header")

    if tools:
        code = False
        why.append("tools")
    else:
        code = bool(_FENCE.search(everything) or _CODE_LINE.search(everything) or _CODE_WORDS.search(last))
        if code:
            why.append("code")
    return Estimate(effort=effort, code=code, why=tuple(why))


def choose(est: Estimate, table: SpecialistSet) -> str:
    """The specialist whose rule matches: rules with a code decision before `code: any`, then file
    order. No rule matching falls back to the first specialist of the file (the front door)."""
    rules = [(name, p.routing) for name, p in table.profiles.items() if p.routing is not None]
    rules.sort(key=lambda r: r[1].code == "any")  # stable: file order within each group
    for name, rule in rules:
        low, high = rule.effort
        if low <= est.effort <= high and (rule.code == "any" or rule.code == est.code):
            return name
    return table.names[0]
