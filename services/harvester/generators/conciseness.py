"""Other generators' prose answers → verbose-to-terse rewrite drills.

The terse side is extractive (filler dropped, the lead sentence of each paragraph kept, lists
shortened), so it only ever says what the source answer said. An answer that does not shrink
to at most 60% of its length is not a drill and is counted as skipped.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from services.harvester.base import Context, Draft, approx_tokens

NAME = "conciseness"
MIN_SOURCE_TOKENS = 60
MAX_RATIO = 0.6
MAX_LIST_ITEMS = 4
PROMPT = "Rewrite this answer to be as concise as possible while keeping every fact that matters:\n\n"

_FENCE = re.compile(r"```.*?```", re.DOTALL)
_FILLER = re.compile(
    r"^(?:sure|certainly|of course|absolutely|great question|good question|okay|ok|alright)[!,.]*\s*"
    r"|\b(?:basically|essentially|actually|really|just|simply|very|quite|of course),?\s+"
    r"|\b(?:I think|I believe|it seems that|it is worth noting that|note that|as you can see,?)\s*"
    r"|^(?:let me|I'll|I will|here is|here's)\b[^.:\n]*[:.]\s*",
    re.IGNORECASE | re.MULTILINE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(])")
_LIST = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+")


def terse(answer: str) -> str:
    """Extractive short form: lead sentence per paragraph, a few list items, no filler."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", _FENCE.sub("", answer)):
        lines = [ln for ln in para.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        items = [ln for ln in lines if _LIST.match(ln)]
        if items and len(items) >= len(lines) - 1:
            lead = [ln for ln in lines if not _LIST.match(ln)]
            kept = lead + items[:MAX_LIST_ITEMS]
            out.append("\n".join(_FILLER.sub("", ln).strip() for ln in kept))
            continue
        text = _FILLER.sub("", " ".join(ln.strip() for ln in lines)).strip()
        first = _SENTENCE.split(text, maxsplit=1)[0].strip()
        if first:
            out.append(first[0].upper() + first[1:])
    return "\n".join(out).strip()


class Conciseness:
    name = NAME

    def run(self, drafts: list[Draft], ctx: Context) -> Iterator[Draft]:
        for d in drafts:
            if d.thought is not None:  # the same answer as its plain draft: rewritten once, there
                continue
            answer = d.answer
            # Code and JSON answers are already exact; shortening them would break them.
            if answer.lstrip().startswith(("```", "{", "[")) or approx_tokens(answer) < MIN_SOURCE_TOKENS:
                continue
            short = terse(answer)
            if not short or approx_tokens(short) > MAX_RATIO * approx_tokens(answer):
                ctx.skips.add(NAME, "not_compressible")
                continue
            yield Draft(generator=NAME, task="concise_rewrite", source=d.source, commit=d.commit, path=d.path,
                        lines=d.lines, session_id=d.session_id,
                        messages=(("user", PROMPT + answer), ("assistant", short)))
