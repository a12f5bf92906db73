"""A copy with one word inserted is a near duplicate however short the text, measured on generated
pairs: short windows of real prose (this repository's README) and a copy of each with one word
inserted at a random place. Distinct short examples, including ones that differ in a single
substituted name or number, must all stay."""

from __future__ import annotations

import random
from pathlib import Path

from services.judge.dedup import DedupHistory, deduplicate
from services.judge.text import words
from tests.judge.conftest import make

ROOT = Path(__file__).resolve().parents[2]
PROSE = [ROOT / "README.md", ROOT / "docs" / "architecture.md"]


def windows(n: int, seed: int) -> list[tuple[str, str]]:
    """`n` distinct (prompt, answer) pairs of 3-30 words from non-overlapping spans of the docs."""
    text = "\n".join(p.read_text(encoding="utf-8") for p in PROSE)
    tokens = [t for t in text.split() if any(c.isalpha() for c in t)]
    rng = random.Random(seed)
    out, pos, seen = [], 0, set()
    while len(out) < n and pos < len(tokens) - 40:
        q, a = rng.randint(2, 8), rng.randint(1, 22)
        prompt, answer = " ".join(tokens[pos:pos + q]), " ".join(tokens[pos + q:pos + q + a])
        pos += q + a
        key = " ".join(words(prompt + " " + answer))
        if key not in seen:
            seen.add(key)
            out.append((prompt, answer))
    assert len(out) == n, "the docs are too short for the sample"
    return out


def insert_word(text: str, rng: random.Random) -> str:
    parts = text.split()
    parts.insert(rng.randint(0, len(parts)), rng.choice(["really", "also", "then", "quickly", "the", "simply",
                                                         "now", "please", "first", "exactly"]))
    return " ".join(parts)


def test_one_word_insertions_are_caught_in_short_texts() -> None:
    rng = random.Random(11)
    pairs = windows(200, seed=5)
    originals = [make(a, prompt=p) for p, a in pairs]
    copies = []
    for p, a in pairs:
        if rng.random() < 0.5:
            copies.append(make(insert_word(a, rng), prompt=p))
        else:
            copies.append(make(a, prompt=insert_word(p, rng)))
    kept, dropped = deduplicate(originals + copies, None)
    caught = sum(1 for e, reason, _ in dropped if e in copies and reason.startswith("duplicate:"))
    lost = [e for e, _, _ in dropped if e in originals]
    assert caught / len(copies) >= 0.95, f"caught {caught} of {len(copies)}"
    assert lost == []  # no distinct short example is dropped
    assert len(kept) == len(originals)


def test_distinct_short_examples_that_differ_in_one_name_or_number_stay() -> None:
    prompts = [f"What does `{name}` in `shared.events` do?" for name in ("new_id", "content_hash", "Example",
                                                                        "ChatMessage", "Provenance")]
    answers = [f"Retries the publish {n} times." for n in (2, 3, 5)] + ["It is not retried.", "It is retried."]
    examples = [make(a, prompt=p) for p in prompts for a in answers]
    kept, dropped = deduplicate(examples, None)
    assert dropped == [] and len(kept) == 25


def test_a_short_insertion_copy_of_an_earlier_cycle_is_a_history_duplicate(tmp_path: Path) -> None:
    history = DedupHistory()
    old = make("Run the judge tests before merging.", prompt="Run tests?")
    history.update([old])
    history.save(tmp_path / "h.npz")
    loaded = DedupHistory.load(tmp_path / "h.npz")
    copy = make("Run the judge tests right before merging.", prompt="Run tests?")
    kept, dropped = deduplicate([copy], loaded)
    assert kept == [] and [(r, of) for _, r, of in dropped] == [("duplicate:history", old.id)]


def test_a_shared_system_prompt_does_not_make_distinct_requests_duplicates() -> None:
    from shared.events import Example, Provenance

    tools = "The tools you can call, as OpenAI function schemas:\n" + "\n".join(
        f'{{"type": "function", "function": {{"name": "tool_{i}", "parameters": {{"type": "object", "properties": '
        f'{{"path": {{"type": "string"}}, "limit": {{"type": "integer"}}}}}}}}}}' for i in range(8))
    requests = [("Start a cycle for the coder.", '{"name": "tool_0", "arguments": {"path": "coder"}}'),
                ("Which stage is the current cycle in?", '{"name": "tool_1", "arguments": {}}'),
                ("Roll the reasoner back to the previous adapter.", '{"name": "tool_2", "arguments": {"limit": 1}}')]
    examples = [Example.build(specialist="orchestrator", category="tool_use", generator="sessions",
                              messages=[("system", tools), ("user", q), ("assistant", a)],
                              provenance=Provenance(source="t")) for q, a in requests]
    kept, dropped = deduplicate(examples, None)
    assert dropped == [] and len(kept) == 3
