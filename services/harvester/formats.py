"""Fill-in-the-middle and reasoning (think) formatting with the base tokenizer's own special tokens.

FIM and think tokens differ per model family and training on the wrong strings teaches nothing, so
the tokens are read from the tokenizer's files (no transformers import: a JSON read is enough). An
unknown FIM family is an error, not a guess; a tokenizer without think tokens (SmolLM2, the
default base) gets no think-format examples, counted as `think:unsupported_tokenizer`.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, replace
from pathlib import Path

from services.harvester.base import Draft, Skips
from services.harvester.errors import UnknownTokenizerFamily
from shared.events import Example
from shared.think import THINK_TAGS

# family -> (prefix, suffix, middle); the prompt is prefix-token, prefix, suffix-token, suffix, middle-token
FIM_FAMILIES: dict[str, tuple[str, str, str]] = {
    "starcoder": ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    "qwen": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    "deepseek": ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    "codellama": ("▁<PRE>", "▁<SUF>", "▁<MID>"),
    "codegemma": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
}


@dataclass(frozen=True)
class ThinkFamily:
    """How a family wraps a worked rationale: `{open}\n{thought}\n{close}{after}{answer}`."""

    open: str
    close: str
    tokens: tuple[str, ...]  # special tokens the tokenizer must declare for this family
    after: str = "\n\n"  # between the closing tag and the answer
    system: str | None = None  # a token the system turn must carry to switch thinking on

    def render(self, thought: str, answer: str) -> str:
        return f"{self.open}\n{thought.strip()}\n{self.close}{self.after}{answer}"


# Checked in this order (most specific first). Sources, to correct a row:
# - DeepSeek-R1 (and its distills), Qwen3/QwQ, SmolLM3: added tokens `<think>` / `</think>`; the
#   answer follows the closing tag after a blank line (their chat templates).
# - Gemma 4: https://ai.google.dev/gemma/docs/core/prompt-formatting-gemma4 — `<|think|>` in the
#   system instruction switches thinking on; the thought is `<|channel>thought\n...<channel|>`,
#   followed directly by the answer.
# - Magistral (Mistral, 2507 and later): `[THINK]` / `[/THINK]` special tokens.
# The tag pairs themselves live in shared/think.py, where the judge's validity filter reads them.
THINK_FAMILIES: dict[str, ThinkFamily] = {
    "gemma4": ThinkFamily(*THINK_TAGS["gemma4"], ("<|think|>", "<|channel>", "<channel|>"), after="",
                          system="<|think|>"),
    "magistral": ThinkFamily(*THINK_TAGS["magistral"], ("[THINK]", "[/THINK]")),
    "r1": ThinkFamily(*THINK_TAGS["r1"], ("<think>", "</think>")),  # DeepSeek-R1, Qwen3/QwQ, SmolLM3
}
# No tokenizer given (unit runs, tools): today's `<think>` tags.
DEFAULT_THINK = THINK_FAMILIES["r1"]
_CODE = re.compile(r"^```python\n(.*)\n```$", re.DOTALL)
MIN_CODE_LINES = 4


def special_tokens(tokenizer_dir: Path) -> set[str]:
    """Every added/special token string the tokenizer's JSON files declare."""
    found: set[str] = set()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        path = tokenizer_dir / name
        if not path.is_file():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        found.update(t.get("content", "") for t in data.get("added_tokens", []) if isinstance(t, dict))
        found.update(t.get("content", "") for t in (data.get("added_tokens_decoder") or {}).values()
                     if isinstance(t, dict))
        for key in ("additional_special_tokens", "extra_special_tokens"):
            vals = data.get(key) or []
            vals = list(vals.values()) if isinstance(vals, dict) else vals
            found.update(v if isinstance(v, str) else v.get("content", "") for v in vals)
        vocab = (data.get("model") or {}).get("vocab")
        if isinstance(vocab, dict):  # some families keep FIM tokens in the base vocab only
            found.update(t for fam in FIM_FAMILIES.values() for t in fam if t in vocab)
            found.update(t for fam in THINK_FAMILIES.values() for t in fam.tokens if t in vocab)
    return found


def think_family(tokenizer_dir: Path | None) -> ThinkFamily | None:
    """The family whose think tokens the tokenizer declares; `DEFAULT_THINK` without a tokenizer,
    None for a tokenizer with no think tokens (its base model was not trained to think in tags)."""
    if tokenizer_dir is None:
        return DEFAULT_THINK
    tokens = special_tokens(tokenizer_dir)
    return next((fam for fam in THINK_FAMILIES.values() if all(t in tokens for t in fam.tokens)), None)


def think_tags(tokenizer_dir: Path | None) -> tuple[str, str]:
    """(opening, closing) think tags of the base model's family; `<think>`/`</think>` without a tokenizer."""
    fam = think_family(tokenizer_dir)
    if fam is None:
        raise UnknownTokenizerFamily(
            f"tokenizer at {tokenizer_dir} has no known think tokens (known families: {', '.join(THINK_FAMILIES)});"
            " add its family to services/harvester/formats.py THINK_FAMILIES"
        )
    return fam.open, fam.close


def render_think(d: Draft, fam: ThinkFamily) -> Draft:
    """A draft with a worked rationale (`d.thought`) as a think-format example in `fam`'s tags."""
    msgs = list(d.messages)
    last = max(i for i, (r, _) in enumerate(msgs) if r == "assistant")
    msgs[last] = ("assistant", fam.render(d.thought or "", msgs[last][1]))
    if fam.system:
        if msgs and msgs[0][0] == "system":
            msgs[0] = ("system", f"{fam.system}\n{msgs[0][1]}")
        else:
            msgs.insert(0, ("system", fam.system))
    return replace(d, messages=tuple(msgs), format="think", thought=None)


def fim_tokens(tokenizer_dir: Path) -> tuple[str, str, str]:
    tokens = special_tokens(tokenizer_dir)
    for fam in FIM_FAMILIES.values():
        if all(t in tokens for t in fam):
            return fam
    raise UnknownTokenizerFamily(
        f"tokenizer at {tokenizer_dir} has no known fill-in-the-middle tokens (known families: "
        f"{', '.join(FIM_FAMILIES)}); set `fim_share=0` for this base model or add its family to "
        "services/harvester/formats.py FIM_FAMILIES"
    )


def _pick(ex_id: str, n: int) -> tuple[int, int]:
    """A deterministic middle span [a, b) of n lines, from the example's id (no global RNG)."""
    h = int(hashlib.sha256(ex_id.encode()).hexdigest()[:8], 16)
    a = 1 + h % max(1, n - 2)
    return a, min(n, a + 1 + (h >> 8) % 3)


def to_fim(ex: Example, tokens: tuple[str, str, str]) -> Example | None:
    m = _CODE.match(ex.response.strip())
    if m is None:
        return None
    lines = m.group(1).split("\n")
    if len(lines) < MIN_CODE_LINES:
        return None
    a, b = _pick(ex.id, len(lines))
    prefix, middle, suffix = "\n".join(lines[:a]) + "\n", "\n".join(lines[a:b]), "\n" + "\n".join(lines[b:])
    pre, suf, mid = tokens
    return Example.build(specialist=ex.specialist, category=ex.category, generator=ex.generator,
                         messages=[("user", f"{pre}{prefix}{suf}{suffix}{mid}"), ("assistant", middle)],
                         provenance=ex.provenance, format="fim")


def apply_fim(examples: list[Example], tokens: tuple[str, str, str] | None, share: float,
              skips: Skips) -> list[Example]:
    """Re-emit `share` of the code-writing examples as FIM (chosen by id, so reruns agree)."""
    if share <= 0:
        return examples
    out: list[Example] = []
    for ex in examples:
        eligible = ex.format == "chat" and ex.response.lstrip().startswith("```python")
        chosen = eligible and int(ex.id[:8], 16) / 0xFFFFFFFF < share
        if not chosen:
            out.append(ex)
            continue
        if tokens is None:
            skips.add("fim", "no_tokenizer")
            out.append(ex)
            continue
        fim = to_fim(ex, tokens)
        out.append(fim if fim is not None else ex)
    return out


def supported_fim_share(tokenizer_dir: Path | None, share: float) -> tuple[float, str | None]:
    """`share` if the base model has FIM tokens, else 0 and why: a base model that was not trained
    with FIM (SmolLM2, the default) gets no FIM examples rather than a failed harvest."""
    if tokenizer_dir is None or share <= 0:
        return share, None
    try:
        fim_tokens(tokenizer_dir)
    except UnknownTokenizerFamily as err:
        return 0.0, f"fill-in-the-middle examples disabled: {err}"
    return share, None
