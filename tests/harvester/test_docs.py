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
