"""What a harvest is worth: `ouro harvest --report` and `--rate N`.

- `report`: per generator and category, how many examples the harvest made, how many the judge
  kept (filters, dedup, decontamination, balance: the same `judge` the service runs), and three
  samples spread over the group, so a person reads what each generator teaches.
- `rate`: a stratified sample of N (each generator × category gets its share, at least one) rated by
  the judge-model endpoint on a written rubric (RUBRIC: correct / useful / defect tags). A verdict
  that does not parse is counted as unrated, never guessed.

The same rubric is the one a person uses by hand (benchmarks/data_quality/README.md).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from shared.chat_client import ChatEndpoint, ChatError, complete
from shared.events import Example

DEFECTS = ("restates_prompt", "unsupported_fact", "wrong", "truncated", "markup_noise", "boilerplate",
           "claims_unrun_action", "off_category", "broken_by_scrub", "near_duplicate")
RUBRIC = f"""You rate one training example (a prompt and its answer) for a model that assists on a software project.
- correct: every claim in the answer is true of what the prompt shows (or of the project, if the prompt shows it).
- useful: a developer model would learn the skill of the category from it: the answer adds understanding the
  prompt does not already state (not a restated commit message, docstring or label), and is complete.
- defects: zero or more of {", ".join(DEFECTS)}.
Reply with JSON only: {{"correct": true|false, "useful": true|false, "defects": [...]}}"""

_JSON = re.compile(r"\{.*\}", re.DOTALL)


def _text(e: Example) -> tuple[str, str]:
    prompt = "\n".join(f"[{m.role}] {m.content}" for m in e.messages[:-1])
    return prompt, e.messages[-1].content if e.messages else ""


def report(examples: list[Example], kept: set[str], samples: int = 3, width: int = 240) -> list[dict]:
    """One row per (generator, category): count, kept by the judge, `samples` spread-out samples."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for e in examples:
        groups[(e.generator, e.category)].append(e)
    rows = []
    for (gen, cat), group in sorted(groups.items()):
        step = max(1, len(group) // samples)
        picked = group[::step][:samples]
        rows.append({
            "generator": gen, "category": cat, "count": len(group), "kept": sum(e.id in kept for e in group),
            "samples": [{"id": e.id[:12], "kept": e.id in kept, "prompt": _text(e)[0][:width],
                         "answer": _text(e)[1][:width]} for e in picked],
        })
    return rows


def format_report(rows: list[dict]) -> str:
    out = [f"{'generator':<18} {'category':<28} {'count':>6} {'kept':>6}"]
    for r in rows:
        out.append(f"{r['generator']:<18} {r['category']:<28} {r['count']:>6} {r['kept']:>6}")
    out.append(f"{'total':<47} {sum(r['count'] for r in rows):>6} {sum(r['kept'] for r in rows):>6}")
    for r in rows:
        out.append(f"\n## {r['generator']} / {r['category']}")
        for s in r["samples"]:
            flat = lambda t: " ".join(t.split())  # noqa: E731
            out.append(f"- [{'kept' if s['kept'] else 'dropped'}] {flat(s['prompt'])}\n  -> {flat(s['answer'])}")
    return "\n".join(out)


def stratified(examples: list[Example], n: int, seed: int = 0) -> list[Example]:
    """`n` examples, each generator × category getting a share proportional to its size (at least one
    while `n` allows), drawn at random with `seed` so a rating can be repeated."""
    groups: dict[tuple[str, str], list[Example]] = defaultdict(list)
    for e in sorted(examples, key=lambda e: e.id):
        groups[(e.generator, e.category)].append(e)
    rng = random.Random(seed)
    for g in groups.values():
        rng.shuffle(g)
    total = len(examples)
    quota = {k: min(len(g), max(1, round(n * len(g) / total))) for k, g in groups.items()} if total else {}
    # trim or fill to exactly n, largest groups giving up or taking first
    order = sorted(groups, key=lambda k: -len(groups[k]))
    while sum(quota.values()) > n and any(q > 0 for q in quota.values()):
        k = max(order, key=lambda k: (quota[k], len(groups[k])))
        quota[k] -= 1
    while sum(quota.values()) < min(n, total):
        k = next(k for k in order if quota[k] < len(groups[k]))
        quota[k] += 1
    return [e for k in order for e in groups[k][: quota[k]]]


@dataclass
class Rating:
    example_id: str
    generator: str
    category: str
    correct: bool | None  # None: the verdict did not parse
    useful: bool | None
    defects: list[str] = field(default_factory=list)


def parse_verdict(text: str) -> tuple[bool, bool, list[str]] | None:
    match = _JSON.search(text or "")
    if not match:
        return None
    try:
        data = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("correct"), bool) or \
            not isinstance(data.get("useful"), bool):
        return None
    defects = [d for d in (data.get("defects") or []) if isinstance(d, str) and d in DEFECTS]
    return data["correct"], data["useful"], defects


def rate(examples: list[Example], endpoint: ChatEndpoint) -> list[Rating]:
    out = []
    for e in examples:
        prompt, answer = _text(e)
        ask = [{"role": "system", "content": RUBRIC},
               {"role": "user", "content": f"Category: {e.category}\n\nPROMPT:\n{prompt}\n\nANSWER:\n{answer}"}]
        try:
            verdict = parse_verdict(complete(endpoint, ask, max_tokens=120))
        except ChatError:
            verdict = None
        correct, useful, defects = verdict if verdict else (None, None, [])
        out.append(Rating(e.id, e.generator, e.category, correct, useful, defects))
    return out


def shares(ratings: list[Rating]) -> dict[str, object]:
    rated = [r for r in ratings if r.correct is not None]
    n = len(rated)

    def share(rs: list[Rating], attr: str) -> float | None:
        return round(sum(bool(getattr(r, attr)) for r in rs) / len(rs), 3) if rs else None

    by_gen: dict[str, list[Rating]] = defaultdict(list)
    for r in rated:
        by_gen[r.generator].append(r)
    return {
        "sampled": len(ratings), "rated": n, "unrated": len(ratings) - n,
        "correct": share(rated, "correct"), "useful": share(rated, "useful"),
        "defects": dict(Counter(d for r in rated for d in r.defects).most_common()),
        "by_generator": {g: {"n": len(rs), "correct": share(rs, "correct"), "useful": share(rs, "useful")}
                         for g, rs in sorted(by_gen.items())},
    }
