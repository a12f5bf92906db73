"""STaR, self-taught reasoning: the champion's own verified answers become training examples.

For drafts whose final answer can be checked (`Draft.expected`: the value reasoning-from-execution
got by running the code, a computed number), the current champion (an OpenAI-compatible endpoint:
the router or vLLM serving it, `OURO_HARVESTER_STAR_URL`) is sampled `k` times. The first answer
whose conclusion states the expected value is kept: a rationale the model can already produce,
reinforced. When none does, it is asked once more with the answer as a hint (rationalization), and
that rationale is kept — under the ORIGINAL prompt, without the hint — only if it reaches the
answer. Bounded per harvest (`budget` prompts); every outcome is counted
(`star:solved|rationalized|unsolved|error`). The drafts go into the corpus through the judge like
any other, as generator `star`, with the provenance of the draft they came from.
"""

from __future__ import annotations

import ast
import re
from collections import Counter
from dataclasses import replace

from services.harvester.base import Draft
from services.harvester.plan import StarConfig
from shared.chat_client import ChatError, RateLimit, complete
from shared.scrub import scrub

SYSTEM = ("Reason step by step, then give your final answer on the last line as "
          "`Answer: <value>`, the value written as Python would print its repr.")
HINT = "\n\n(Hint: the correct result is `{answer}`. Show the reasoning that reaches it.)"
GIVE_UP_AFTER = 3  # errors in a row: the endpoint is down for this harvest

_ANSWER = re.compile(r"(?im)^\W*answer\s*:\s*(.+?)\s*$")
_RETURNS = re.compile(r"returns\s+`([^`]+)`")


def stated_result(answer: str) -> str | None:
    """The value an answer concludes with: its last `Answer: X` line, else its last "returns `X`"."""
    found = _ANSWER.findall(answer)
    if found:
        return found[-1].strip().rstrip(".").strip().strip("`").strip()
    found = _RETURNS.findall(answer)
    return found[-1].strip() if found else None


def same_value(stated: str | None, expected: str) -> bool:
    if stated is None:
        return False
    if " ".join(stated.split()) == " ".join(expected.split()):
        return True
    try:  # 3 == 3.0 is not the same answer for a trace, but ('a', 1) and ("a", 1) are
        a, b = ast.literal_eval(stated), ast.literal_eval(expected)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return type(a) is type(b) and a == b


def _ask(draft: Draft, hint: str | None) -> list[dict[str, str]]:
    turns = [{"role": r, "content": c} for r, c in draft.messages[:-1] if r != "system"]
    if hint is not None:
        turns[-1] = {"role": "user", "content": turns[-1]["content"] + HINT.format(answer=hint)}
    # what leaves the machine is scrubbed like what is trained on (core scrubs drafts only later)
    return [{"role": "system", "content": SYSTEM}, *({**t, "content": scrub(t["content"])[0]} for t in turns)]


def star(drafts: list[Draft], config: StarConfig, outcomes: Counter[str]) -> list[Draft]:
    """Verified champion answers for up to `config.budget` verifiable drafts."""
    limit = RateLimit(config.rate_per_s)
    todo = [d for d in drafts if d.expected is not None and d.format == "chat" and len(d.messages) >= 2
            and d.generator not in ("star", "teacher")
            and d.messages[-1][0] == "assistant" and d.messages[-2][0] == "user"][: config.budget]
    out: list[Draft] = []
    errors = 0

    def sample(d: Draft, hint: str | None, temperature: float) -> str | None:
        nonlocal errors
        limit.wait()
        try:
            text = complete(config.endpoint, _ask(d, hint), max_tokens=config.max_tokens, temperature=temperature)
        except ChatError:
            errors += 1
            outcomes["star:error"] += 1
            return None
        errors = 0
        return text.strip()

    for d in todo:
        assert d.expected is not None
        kept, how = None, ""
        for _ in range(config.k):
            if errors >= GIVE_UP_AFTER:
                break
            text = sample(d, None, config.temperature)
            if text and same_value(stated_result(text), d.expected):
                kept, how = text, "solved"
                break
        if kept is None and errors < GIVE_UP_AFTER:
            text = sample(d, d.expected, 0.0)
            if text and same_value(stated_result(text), d.expected):
                kept, how = text, "rationalized"
        if kept is None:
            outcomes["star:unavailable" if errors >= GIVE_UP_AFTER else "star:unsolved"] += 1
            continue
        outcomes[f"star:{how}"] += 1
        out.append(replace(d, generator="star", messages=(*d.messages[:-1], ("assistant", kept)), thought=None,
                           expected=None, source=f"star:{how}:{config.endpoint.model}<-{d.generator}:{d.source}"))
    return out
