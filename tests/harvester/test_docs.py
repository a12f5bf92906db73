from __future__ import annotations

from collections import Counter
from pathlib import Path

from services.harvester.base import Context, Draft, Skips, approx_tokens
from services.harvester.core import HarvestPlan, harvest
from services.harvester.generators.docs import MAX_ANSWER_TOKENS, Docs, clip, sections
from tests.harvester.conftest import RepoBuilder

BODY = ("The judge drops examples whose answers repeat themselves, near-duplicates found by MinHash, and "
        "anything that overlaps an evaluation prompt, then balances the categories to the target mix.")
README = f"""# Ouroboros

Intro text before any section is long enough to count but it belongs to the title section here: {BODY}

## Judging

{BODY}

```python
# not a heading
judge(raw)
```

## Tiny

Too short.

## License

{BODY}

Setext heading
--------------

{BODY} The key is AKIAABCDEFGHIJKLMNOP.
"""
RST = f"""=====
Guide
=====

Deploying
---------

{BODY}
"""


def run(repo: Path, since: str | None = None) -> tuple[list[Draft], Counter[str]]:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=repo, since_commit=since), skips=Skips())
    return list(Docs().run(ctx)), ctx.skips.counts


def test_one_pair_per_section_and_skips(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("docs", {"README.md": README, "docs/guide.rst": RST, "CHANGELOG.md": f"# 1.0\n\n{BODY}\n",
                                 "LICENSE.md": f"# MIT\n\n{BODY}\n", ".venv/x.md": f"# Hidden\n\n{BODY}\n"})
    drafts, skips = run(repo_builder.root)
    assert [d.prompt for d in drafts] == [
        "Explain Ouroboros in README.md.", "Explain Judging in README.md.", "Explain Setext heading in README.md.",
        "Explain Deploying in docs/guide.rst."]
    assert skips == Counter({"docs:changelog_or_licence": 3, "docs:tiny_section": 2})  # CHANGELOG, LICENSE, ## License
    judging = drafts[1]
    assert judging.answer.startswith(BODY) and "# not a heading" in judging.answer
    assert judging.lines == (7, 12) and judging.path == "README.md"


def test_secrets_in_docs_are_scrubbed(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("docs", {"README.md": README})
    result = harvest(HarvestPlan(specialist="coder", repo=repo_builder.root))
    docs = [e for e in result.examples if e.generator == "docs"]
    assert docs and {e.category for e in docs} == {"instruction"}
    assert all("AKIAABCDEFGHIJKLMNOP" not in e.response for e in docs)
    assert harvest(HarvestPlan(specialist="coder", repo=repo_builder.root, docs=False)).by_generator.get(
        "docs") is None


def test_incremental_mines_only_changed_docs(repo_builder: RepoBuilder) -> None:
    first = repo_builder.commit("docs", {"README.md": README})
    repo_builder.commit("guide", {"docs/guide.rst": RST})
    drafts, _ = run(repo_builder.root, since=first)
    assert [d.path for d in drafts] == ["docs/guide.rst"]


def test_long_section_is_clipped_into_the_band() -> None:
    (sec,) = sections("# Big\n\n" + "\n".join(f"line {i} {BODY}" for i in range(80)), rst=False)
    assert sec.heading == "Big" and sec.lines == (3, 82)
    clipped = clip(sec.text + "\n```python\nx = 1")
    assert 0 < approx_tokens(clipped) <= MAX_ANSWER_TOKENS and clipped.startswith("line 0 ")
    assert clip("```\n" + "\n".join(["code"] * 60)).endswith("\n```")  # a fence cut open is closed


LIBRARY_README = f"""mylib
=====

.. image:: https://img.shields.io/pypi/v/mylib.svg
   :target: https://pypi.org/project/mylib

|build| |coverage|

Usage
-----

Call :func:`mylib.parse` with a path; it returns a :class:`~mylib.Config`. Set ``strict=True`` to
fail on unknown keys, see `the guide <https://mylib.readthedocs.io/guide>`_ and **always** pin
the version. {BODY}

Example::

    cfg = mylib.parse("app.toml", strict=True)

Donate
------

If this library saves you time, buy us a coffee on the sponsors page. {BODY}

Contributing
------------

Pull requests are welcome; run the tests first and add a changelog entry. {BODY}

API
---

.. automodule:: mylib
   :members:
   :undoc-members:
"""

MD_README = f"""# tool

[![CI](https://github.com/o/tool/actions/workflows/ci.yml/badge.svg)](https://github.com/o/tool/actions)

## How it works

The <b>scheduler</b> reads [the queue](docs/queue.md) and runs each *job* once. {BODY}
"""


def test_markup_boilerplate_and_autodoc_stubs_are_left_out(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("docs", {"README.rst": LIBRARY_README, "docs/how.md": MD_README})
    drafts, skips = run(repo_builder.root)
    assert skips["docs:boilerplate_section"] == 2 and skips["docs:autodoc_stub"] == 1
    assert not any("Donate" in d.prompt or "Contributing" in d.prompt or "API" in d.prompt for d in drafts)
    usage = next(d for d in drafts if d.prompt == "Explain Usage in README.rst.")
    assert usage.answer.startswith("Call `mylib.parse` with a path; it returns a `mylib.Config`. Set `strict=True`")
    assert "see the guide and always pin" in usage.answer
    assert 'Example:\n\n    cfg = mylib.parse("app.toml", strict=True)' in usage.answer  # code stays
    for noise in (":func:", ":class:", "``", "<https", "**", "|build|", ".. image", ":target:"):
        assert noise not in "".join(d.answer for d in drafts), noise
    how = next(d for d in drafts if "How it works" in d.prompt)
    assert how.answer.startswith("The scheduler reads the queue and runs each job once.")


def test_a_doc_role_reads_as_the_page_name_not_as_code() -> None:
    # itsdangerous docs/serializer.rst: ":doc:`/signer`" became "`/signer`" (rated markup noise)
    from services.harvester.generators.docs import clean

    assert clean("The :doc:`/signer` only signs bytes. See :doc:`api/timed`.") == (
        "The signer only signs bytes. See timed.")
