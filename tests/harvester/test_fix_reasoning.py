"""Why the fix works: a real repository's bugfix commits → the failure and the mechanism of the fix,
reasoned from the message and the diff (every fact in the prompt), plain and in think tags."""

from __future__ import annotations

import git

from services.harvester.base import Context, Skips
from services.harvester.core import harvest
from services.harvester.generators.fix_reasoning import FixReasoning, fragment
from services.harvester.plan import HarvestPlan

from .conftest import PARSER_V1, PARSER_V2, RepoBuilder

BOT = git.Actor("dependabot[bot]", "bot@example.org")


def drafts(repo: RepoBuilder) -> tuple[list, Skips]:
    ctx = Context(plan=HarvestPlan(specialist="coder", repo=repo.root), skips=Skips())
    return list(FixReasoning().run(ctx)), ctx.skips


def test_the_off_by_one_fix_is_explained_from_its_diff(small_repo: RepoBuilder) -> None:
    small_repo.commit("Fix parse_line accepting a line without '='",
                      {"pkg/parser.py": PARSER_V2.replace(
                          "    if not key.strip():\n",
                          '    if not key.strip() or "=" not in line:  # no "=" means no value was given\n'),
                       "tests/test_parser.py": "from pkg.parser import parse_line\n\n\ndef test_parse():\n"
                                               "    assert parse_line('a = b') == ('a', 'b')\n"
                                               "    assert parse_line(' k = v') == ('k', 'v')\n"})
    found, skips = drafts(small_repo)
    plain = [d for d in found if d.format == "chat"]
    off_by_one = next(d for d in plain if "off-by-one" in d.prompt)
    # the exact fragment the fix removed, found by a token diff of the old and new line
    assert "`[:-1]` was dropped in `parse_line`" in off_by_one.answer
    # the why: the message body, which the prompt shows
    assert "lines from splitlines() have none" in off_by_one.answer and "splitlines() have none" in off_by_one.prompt
    assert off_by_one.answer.startswith("1. The commit reports:")
    think = next(d for d in found if d.format == "think" and d.commit == off_by_one.commit)
    assert think.thought and "`return key.strip(), value[:-1].strip()` is now `return key.strip(), value.strip()`" \
        in think.thought and not think.answer.startswith("1.")
    # the "Add tests" and "Add config parser" commits are not fixes: nothing from them
    assert all("Add tests" not in d.prompt for d in found)
    second = next(d for d in plain if "without '='" in d.prompt)
    assert '`or "=" not in line` was added in `parse_line`' in second.answer
    assert "no \"=\" means no value was given" in second.answer  # the inline comment is the author's why
    assert "`assert parse_line(' k = v') == ('k', 'v')`" in second.answer  # the test that came with it
    assert not skips.counts


def test_bots_and_unfocused_fixes_are_skipped_and_counted(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Add parser", {"pkg/parser.py": PARSER_V1})
    r = repo_builder.repo
    (repo_builder.root / "pkg" / "parser.py").write_text(PARSER_V2)
    r.index.add(["pkg/parser.py"])
    r.index.commit("fix: parser drops the last character", author=BOT, committer=BOT)
    repo_builder.commit("Fix the parser; also rework the cache and the CLI",
                        {"pkg/parser.py": PARSER_V2.replace("strip()", "strip( )")})
    found, skips = drafts(repo_builder)
    assert found == []
    assert skips.counts["fix_reasoning:bot_author"] == 1 and skips.counts["fix_reasoning:unfocused_commit"] == 1


def test_fragment_is_the_smallest_differing_span() -> None:
    assert fragment("return value[:-1].strip()", "return value.strip()") == ("[:-1]", "")
    assert fragment("if n > 10:", "if n >= 10:") == (">", ">=")


def test_mapped_to_debugging_for_the_coder_and_reasoning_for_the_reasoner(small_repo: RepoBuilder) -> None:
    for specialist, category in (("coder", "debugging"), ("reasoner", "reasoning"), ("orchestrator", "reasoning")):
        mine = [e for e in harvest(HarvestPlan(specialist=specialist, repo=small_repo.root, docs=False)).examples
                if e.generator == "fix_reasoning"]
        assert {e.category for e in mine} == {category}, specialist
        assert any(e.format == "think" and e.response.startswith("<think>\n1. The commit reports") for e in mine)


TIMED = '''def unsign(value):
    try:
        ts = to_datetime(value)
    except (ValueError, OSError) as exc:
        raise BadTimeSignature("Malformed timestamp") from exc
    return ts
'''


def test_a_fix_named_by_what_it_catches_is_explained_from_the_handler(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Add unsign", {"pkg/timed.py": TIMED})
    repo_builder.commit("handle OverflowError in unsign on 32-bit systems", {"pkg/timed.py": TIMED.replace(
        "except (ValueError, OSError) as exc:", "except (ValueError, OSError, OverflowError) as exc:")})
    # lint and typing "fixes" are not bugs, and "handle errors" with no handler or guard is not shown a fix
    repo_builder.commit("fix mypy findings", {"pkg/timed.py": TIMED.replace("def unsign(value):",
                                                                          "def unsign(value: str):")})
    repo_builder.commit("handle errors better", {"pkg/timed.py": TIMED.replace("ts = to", "ts = 1 + to")})
    found, skips = drafts(repo_builder)
    plain = [d for d in found if d.format == "chat"]
    assert [d.commit for d in plain] == [repo_builder.repo.commit("HEAD~2").hexsha]
    answer = plain[0].answer
    assert ("Why that fixes it: before, `OverflowError` raised in the `try` block in `unsign` was not caught by "
            "`except (ValueError, OSError) as exc:`") in answer
    assert "now catches it and raises `BadTimeSignature` instead" in answer  # the raise is in the diff's context
    assert skips.counts["fix_reasoning:no_fix_shape"] == 1


def test_a_new_guard_and_a_docstring_edit(repo_builder: RepoBuilder) -> None:
    src = 'def first(items):\n    """The first item.\n\n    Never empty.\n    """\n    return items[0]\n'
    repo_builder.commit("Add first", {"pkg/seq.py": src})
    repo_builder.commit("Fix crash of first on an empty list", {"pkg/seq.py": src.replace(
        "    Never empty.\n", "    None when empty.\n").replace(
        "    return items[0]", "    if not items:\n        return None\n    return items[0]")})
    found, _ = drafts(repo_builder)
    answer = next(d for d in found if d.format == "chat").answer
    assert "the new guard `if not items:` in `first` stops inputs where `not items` holds with `return None`" \
        in answer
    assert "Never empty" not in answer and "None when empty" not in answer  # docstring prose is not code
