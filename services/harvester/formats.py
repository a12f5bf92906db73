"""Fill-in-the-middle formatting with the base tokenizer's own FIM tokens.

FIM tokens differ per model family and training on the wrong strings teaches nothing, so the
tokens are read from the tokenizer's files (no transformers import: a JSON read is enough) and an
unknown family is an error, not a guess.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from services.harvester.base import Skips
from services.harvester.errors import UnknownTokenizerFamily
from shared.events import Example

# family -> (prefix, suffix, middle); the prompt is prefix-token, prefix, suffix-token, suffix, middle-token
FIM_FAMILIES: dict[str, tuple[str, str, str]] = {
    "starcoder": ("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
    "qwen": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
    "deepseek": ("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
    "codellama": ("▁<PRE>", "▁<SUF>", "▁<MID>"),
    "codegemma": ("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
}
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
    return found


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
