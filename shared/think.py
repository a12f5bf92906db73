"""Think-tag pairs per model family: the harvester writes them, the judge checks them balance.

One table, so a family added for the harvester is one the judge's validity filter accepts.
Sources, to correct a row:
- DeepSeek-R1 (and its distills), Qwen3/QwQ, SmolLM3: added tokens `<think>` / `</think>`.
- Gemma 4 (https://ai.google.dev/gemma/docs/core/prompt-formatting-gemma4): `<|think|>` in the
  system turn switches thinking on; the thought itself is `<|channel>thought ... <channel|>`.
- Magistral (Mistral, 2507 and later): `[THINK]` / `[/THINK]` special tokens.
"""

from __future__ import annotations

THINK_TAGS: dict[str, tuple[str, str]] = {
    "gemma4": ("<|channel>thought", "<channel|>"),
    "magistral": ("[THINK]", "[/THINK]"),
    "r1": ("<think>", "</think>"),
}


def think_balanced(content: str) -> bool:
    """Every family's opening and closing tags alternate, open first, never nested."""
    for open_tag, close_tag in THINK_TAGS.values():
        depth, i = 0, 0
        while True:
            o, c = content.find(open_tag, i), content.find(close_tag, i)
            if o < 0 and c < 0:
                break
            if o >= 0 and (c < 0 or o < c):
                depth, i = depth + 1, o + len(open_tag)
            else:
                depth, i = depth - 1, c + len(close_tag)
            if depth not in (0, 1):
                return False
        if depth:
            return False
    return True


def has_thought(content: str) -> bool:
    return any(open_tag in content and close_tag in content for open_tag, close_tag in THINK_TAGS.values())
