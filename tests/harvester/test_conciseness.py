"""Conciseness drills keep what matters: every number, identifier and named entity of the source
survives into the terse version, which ends on a finished sentence; otherwise no drill. Sources:
other generators' answers, and the prose of the repository's docs and docstrings."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.harvester.base import Context, Draft, Skips
from services.harvester.core import HarvestPlan
from services.harvester.generators.conciseness import (
    Conciseness,
    droppable,
    ends_cleanly,
    missing_facts,
    terse,
    tighten,
)


def drills(answer: str) -> tuple[list[Draft], Skips]:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", sessions=None, repo=None), skips=Skips())
    d = Draft(generator="sessions", task="session_turn", source="s.jsonl",
              messages=(("user", "How does the promoter decide?"), ("assistant", answer)))
    return list(Conciseness().run([d], ctx)), ctx.skips


# The fact that matters sits in a later sentence: the old lead-sentence drill dropped it.
POLICY = ("Sure! Basically, the promoter compares the candidate with the champion on the same suite. "
          "It is really quite careful about this, as you can see from how it works in practice and from "
          "the many reports it has written over the past months about each and every candidate. "
          "A candidate must reach `min_overall` 0.70 and beat the champion by a paired bootstrap at 95%. "
          "That is the gist of the whole thing, and it is worth remembering when reading the reports.\n\n"
          "When it promotes, it swaps the adapter in vLLM without dropping requests. The swap itself is "
          "simple and quick, and nobody has to wait for it, which is nice for everybody involved in it.")


def test_the_terse_answer_keeps_every_number_identifier_and_name() -> None:
    [drill], skips = drills(POLICY)
    short = drill.answer
    assert "`min_overall` 0.70" in short and "95%" in short and "vLLM" in short
    assert "Basically" not in short and "careful" not in short and "gist" not in short
    assert not missing_facts(POLICY, short) and ends_cleanly(short)
    assert not skips.counts


def test_a_drill_that_would_lose_a_fact_or_end_on_a_colon_is_rejected() -> None:
    assert missing_facts("Retries 3 times via `publish` on NATS.", "Retries via it.") == {"3", "publish", "NATS"}
    assert not ends_cleanly("The fix (+5/-0 lines in `shared/suites.py`):")
    assert not ends_cleanly("It filters examples and then")
    assert ends_cleanly("- `shared.bus` (Bus)") and ends_cleanly("It filters examples.")
    # a source whose prose ends on a colon before a code block: the terse side would dangle
    colon = ("The suites fix is small and it is really simple to follow for anybody who reads it carefully, "
             "even when they are new to the code base and have never seen it before in their lives at all. "
             "It is explained well enough by the commit message itself, which says what it does and why. "
             "Nothing else needs to be said about it here, since the diff speaks for itself entirely.\n\n"
             "The fix:\n```diff\n-a\n+b\n```")
    assert drills(colon)[1].counts == {"conciseness:ends_mid_sentence": 1}
    assert terse(colon).endswith("The fix:")


# ---------------------------------------------------------------------- prose of the repository's docs

README = """# Demo

[![build](https://ci.example.org/badge.svg)](https://ci.example.org)

## Retries

The **publisher** retries a failed send 5 times with `backoff()` (which is [cheap](docs/bus.md)),
and gives up after `max_deliver` attempts. It is really quite robust, as you can see. A message
that still fails goes to the dead-letter queue, so nothing is lost.

```python
publish(msg)  # (a call, not prose)
```

| option | default |
|---|---|
| retries | 5 |

## Contributing

Pull requests are welcome (please run the linter first, and add a test for every change you make).
"""

MODULE = '''"""The scheduler of the loop (it lives in one process, never in two).

In order to keep the loop cheap, a training starts when `min_new_examples` new examples arrived
(which is simple), or on the cron schedule, whichever comes first. Note that the same trigger arriving
twice is basically coalesced into one run. It is really quite simple, as you can see.
"""
'''


def doc_drills(tmp_path: Path) -> tuple[list[Draft], Skips]:
    (tmp_path / "README.md").write_text(README)
    (tmp_path / "sched.py").write_text(MODULE)
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=tmp_path), skips=Skips())
    return list(Conciseness().run([], ctx)), ctx.skips


def test_docs_paragraphs_become_drills_that_show_the_cleaned_source(tmp_path: Path) -> None:
    drills_, _ = doc_drills(tmp_path)
    [readme] = [d for d in drills_ if d.path == "README.md"]
    prompt, short = readme.messages[0][1], readme.answer
    assert prompt.startswith("Rewrite this passage of README.md as tersely as possible")
    # the source as a reader sees it: no link, emphasis or badge markup
    assert "The publisher retries a failed send 5 times with `backoff()`" in prompt
    assert "](" not in prompt and "**" not in prompt and "badge" not in prompt
    assert short == ("The publisher retries a failed send 5 times with `backoff()`, and gives up after "
                     "`max_deliver` attempts. A message that still fails goes to the dead-letter queue, "
                     "so nothing is lost.")
    assert not missing_facts(prompt.split("\n\n", 1)[1], short) and ends_cleanly(short)
    assert readme.lines is not None and readme.source == "README.md"
    # boilerplate sections, code blocks and tables teach no rewriting: nothing from them
    assert not any("Pull requests" in d.messages[0][1] or "publish(msg)" in d.messages[0][1] for d in drills_)


def test_docstrings_are_docs_too(tmp_path: Path) -> None:
    drills_, _ = doc_drills(tmp_path)
    [doc] = [d for d in drills_ if d.path == "sched.py"]
    # wordy phrase, fact-free aside and padding out; the sentence with a filler word stays, without it
    assert doc.answer == ("To keep the loop cheap, a training starts when `min_new_examples` new examples arrived, "
                          "or on the cron schedule, whichever comes first. The same trigger arriving twice is "
                          "coalesced into one run.")
    assert doc.lines == (1, 6)


def test_docs_off_means_no_docs_drills(tmp_path: Path) -> None:
    (tmp_path / "README.md").write_text(README)
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=tmp_path, docs=False), skips=Skips())
    assert list(Conciseness().run([], ctx)) == []


@pytest.mark.parametrize(("sentence", "want"), [
    # a fact-free aside goes; one that names something stays
    ("The judge drops copies (which is cheap) before training.", "The judge drops copies before training."),
    ("The judge drops copies (see `dedup.py`) before training.",
     "The judge drops copies (see `dedup.py`) before training."),
    # a call's arguments, a parenthesis that is the object, and code are never cut
    ("It calls len(values) on every batch it reads.", "It calls len(values) on every batch it reads."),
    ("The id is the hash of (cycle, batch) in this store.", "The id is the hash of (cycle, batch) in this store."),
    ("Run `f (x)` then stop the whole job.", "Run `f (x)` then stop the whole job."),
    ("For example, the curator waits in order to batch the requests.", "The curator waits to batch the requests."),
])
def test_tighten_cuts_asides_never_facts_or_code(sentence: str, want: str) -> None:
    assert tighten(sentence) == want


def test_a_sentence_without_names_that_carries_the_point_stays() -> None:
    said = "The harvester stores the last harvested commit per repo in a KV bucket."
    assert not droppable("The next cycle mines only commits after that, so a cycle costs what changed.", said)
    assert droppable("It is really quite simple, as you can see.", said)
    assert droppable("The last harvested commit per repo is stored in a bucket.", said)  # says it again


def test_docs_drills_record_what_they_read(tmp_path: Path) -> None:
    """An incremental harvest retires drills of changed or deleted files: it must know which files
    this generator read (every doc and Python file on a full scan)."""
    _, _ = doc_drills(tmp_path)
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=tmp_path), skips=Skips())
    list(Conciseness().run([], ctx))
    assert "conciseness" in ctx.full_scan
    assert ctx.refreshed["conciseness"] == {"README.md", "sched.py"}


@pytest.mark.parametrize("sentence", [
    # itsdangerous docs/serializer.rst: the trailing clause is the mechanism (rated "drops the key mechanism")
    "To sign other types, the `Serializer` class provides a `dumps`/`loads` interface similar to Python's "
    "`json` module, which serializes the object to a string then signs that.",
    # docs/concepts.rst and serializer.py: an example named in a parenthesis is a fact, even in lower case
    "All process managers (like systemd) and hosting services have a way to specify environment variables.",
    "Use it for debugging only and if you know that your serializer module is not exploitable "
    "(for example, do not use it with a pickle serializer).",
])
def test_an_aside_that_says_something_is_kept(sentence: str) -> None:
    assert tighten(sentence) == sentence


def test_a_fact_with_a_filler_word_is_not_padding() -> None:
    said = "A training starts when new examples arrived."
    assert not droppable("Note that the same trigger arriving twice is basically coalesced into one run.", said)


# ---------------------------------------------------------------------- reverse drills of dense prose

# Real passages of pallets/itsdangerous at 672971d (docs/concepts.rst, docs/index.rst, serializer.py):
# already terse, so no extractive drill of them is both shorter and complete.
DENSE = [
    "It should be a long random string of bytes. This value must be kept secret and should not be saved in "
    "source code or committed to version control. If an attacker learns the secret key, they can change and "
    "resign data to look valid. If you suspect this happened, change the secret key to invalidate existing tokens.",
    "ItsDangerous provides two levels of data handling. The signer is the basic system that signs a given `bytes` "
    "value based on the given signing parameters. The serializer wraps a signer to enable serializing and signing "
    "other data besides `bytes`.",
    "Use it for debugging only and if you know that your serializer module is not exploitable (for example, do "
    "not use it with a pickle serializer).",
]


@pytest.mark.parametrize("passage", DENSE)
def test_a_padded_passage_is_clearly_longer_and_the_rules_undo_exactly_the_padding(passage: str) -> None:
    from services.harvester.base import approx_tokens
    from services.harvester.generators.conciseness_padded import MAX_RATIO, pad

    padded = pad(passage)
    assert padded is not None and approx_tokens(passage) <= MAX_RATIO * approx_tokens(padded)
    assert terse(padded) == passage  # the answer is the author's text, and exactly what the rules give back
    assert "ItsDangerous" in padded or "ItsDangerous" not in passage  # a name is never lower-cased
    assert not padded.startswith(("Note that use", "Basically, use"))  # no opener before an imperative


def test_dense_docs_become_reverse_drills_answered_by_the_passage_itself(tmp_path: Path) -> None:
    from services.harvester.generators.conciseness import PADDED_PROMPT

    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "concepts.rst").write_text("Secret Key\n----------\n\n" + DENSE[0] + "\n")
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=tmp_path), skips=Skips())
    [d] = list(Conciseness().run([], ctx))
    assert d.answer == DENSE[0] and d.path == "docs/concepts.rst"
    assert d.prompt.startswith(PADDED_PROMPT) and d.prompt != PADDED_PROMPT + DENSE[0]
    assert not missing_facts(d.prompt, d.answer) and not missing_facts(DENSE[0], d.answer)


def test_no_opener_before_a_noun_phrase_fragment() -> None:
    # a docstring of this repository (docs/architecture.md): a noun phrase, not a clause
    from services.harvester.generators.conciseness_padded import OPENERS, pad

    fragment = ("A function `(output, spec) -> float` in `services/evaluator/scorers.py`'s `SCORERS`, "
                "registered by the spec type it scores. A spec type without a function fails at import.")
    padded = pad(fragment) or ""
    assert not any(o + "a function" in padded for o in OPENERS)
