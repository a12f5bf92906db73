"""What the judge promises with its *default* configuration, the one the bus service runs with.

- Decontamination covers the project's own evaluation suites: a training example that copies a
  shipped suite's conversation is dropped as contaminated (a judge whose path to the suites is
  wrong indexes nothing and keeps it). Every shipped suite is a source.
- Near-duplicate removal is on at the default threshold: a lightly edited copy of an example is
  dropped as `duplicate:near` (a threshold no pair can reach keeps both), while two different
  answers to the same question are both kept (a threshold every pair reaches drops one).

Only `coherence` is switched off (it loads an embedding model and decides neither promise) and
the index cache goes to a temporary directory.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.judge import JudgeConfig, judge
from shared.events import Example, Provenance
from shared.suites import SUITES_DIR, load_suite
from tests.judge.conftest import ANSWER, make

LONG = ANSWER + " It then publishes dataset.ready with the content hash of the kept examples and the report."
RESPONSE = ("I would look at what the request needs first, then pick the specialist and the tools for it, "
            "and report back what each step changed so the user can check it.")


def _config(cache_dir: Path) -> JudgeConfig:
    return JudgeConfig(coherence=False, cache_dir=cache_dir)


def test_every_shipped_suite_is_a_decontamination_source() -> None:
    shipped = {p.resolve() for p in SUITES_DIR.iterdir() if p.is_dir()}
    assert len(shipped) >= 3 and len(list(SUITES_DIR.glob("*/*.jsonl"))) >= 17
    # the default config decontaminates against these (with the specialists file as shipped)
    assert shipped <= {Path(d).resolve() for d in JudgeConfig().suite_dirs()}


@pytest.mark.parametrize("suite", ["orchestrator", "coder", "reasoner"])
def test_a_copied_suite_prompt_is_dropped_as_contaminated(
    suite: str, tokenizer_dir: Path, cache_dir: Path
) -> None:
    items = load_suite(suite).items
    # the longest prompt of the suite: long enough for the n-gram index (short items are skipped)
    item = max(items, key=lambda i: sum(len(m["content"].split()) for m in i.chat()))
    # the suite's conversation (system and user turns) copied into a training example, with an answer
    copied = Example.build(
        specialist="orchestrator", category="reasoning", generator="sessions",
        messages=[*((m["role"], m["content"]) for m in item.chat()), ("assistant", RESPONSE)],
        provenance=Provenance(source="test"),
    )
    clean = make()
    ds = judge([copied, clean], specialist="orchestrator", config=_config(cache_dir), tokenizer_dir=tokenizer_dir)
    assert [e.id for e in ds.examples] == [clean.id]
    assert ds.report.dropped == {"contaminated": 1}
    ((benchmark_item, ids),) = ds.report.contaminated.items()
    assert ids == [copied.id]
    # the item itself, or one of its suite that shares most of its text (a suite's common system prompt)
    assert benchmark_item.startswith(f"suite:{suite}/"), benchmark_item


def test_near_duplicates_are_dropped_at_the_default_threshold(tokenizer_dir: Path, cache_dir: Path) -> None:
    first = make(LONG)
    edited = make(LONG.replace("report.", "report too."), generator="git_diffs")
    different = make("A different answer: the trainer reads dataset.ready, fine-tunes a LoRA adapter on the kept "
                     "examples and publishes checkpoint.ready with the adapter's reference and its metrics.")
    ds = judge([first, edited, different], specialist="orchestrator", config=_config(cache_dir),
               tokenizer_dir=tokenizer_dir)
    kept = {e.id for e in ds.examples}
    assert different.id in kept and len(kept & {first.id, edited.id}) == 1, kept
    assert ds.report.dropped == {"duplicate:near": 1}
    ((dropped, reason, of),) = [(r.id, r.reason, r.detail) for r in ds.rejected]
    assert reason == "duplicate:near" and {dropped, of} == {first.id, edited.id}
