from __future__ import annotations

from collections import Counter
from pathlib import Path

import git
import pytest

from services.harvester.base import Context, Skips
from services.harvester.core import HarvestPlan
from services.harvester.generators.git_diffs import GitDiffs, classify

from .conftest import ACTOR, RepoBuilder


def run(root: Path, **kw) -> tuple[list, Context]:
    ctx = Context(plan=HarvestPlan(specialist="coder", repo=root, **kw), skips=Skips())
    return list(GitDiffs().run(ctx)), ctx


@pytest.mark.parametrize(
    ("message", "paths", "expected"),
    [
        ("fix: crash on empty input", ["a.py"], "bugfix"),
        ("Fix off-by-one in parser", ["a.py"], "bugfix"),
        ("refactor: split the router", ["a.py"], "refactor"),
        ("Add retry support to the bus", ["a.py"], "feature"),
        ("whatever", ["tests/test_a.py"], "test"),
        ("update", ["README.md", "docs/x.md"], "docs"),
        ("bump version", ["pyproject.toml"], "other"),
    ],
)
def test_classify(message: str, paths: list[str], expected: str) -> None:
    assert classify(message, paths) == expected


def test_review_edit_and_commit_message(small_repo: RepoBuilder) -> None:
    drafts, ctx = run(small_repo.root)
    fix_sha = small_repo.repo.commit("HEAD~1").hexsha
    assert ctx.commit_classes == Counter({"feature": 1, "bugfix": 1, "test": 1})
    assert ctx.head_commit == small_repo.repo.head.commit.hexsha

    fix = [d for d in drafts if d.commit == fix_sha]
    assert {d.task for d in fix} == {"commit_message", "diff_review", "diff_edit"}
    assert all(d.hint == "bugfix" and d.path == "pkg/parser.py" for d in fix)
    review = next(d for d in fix if d.task == "diff_review")
    assert "What is wrong here?" in review.prompt and "value[:-1].strip()" in review.prompt
    assert "off-by-one" in review.answer and "+    return key.strip(), value.strip()" in review.answer
    edit = next(d for d in fix if d.task == "diff_edit")
    assert "value[:-1]" in edit.prompt and "value[:-1]" not in edit.answer
    assert edit.lines is not None and edit.lines[0] >= 1
    msg = next(d for d in fix if d.task == "commit_message")
    assert msg.answer.startswith("Fix off-by-one") and "-    return key.strip(), value[:-1].strip()" in msg.prompt


def test_since_commit_watermark(small_repo: RepoBuilder) -> None:
    second = small_repo.repo.commit("HEAD~1").hexsha
    drafts, _ = run(small_repo.root, since_commit=second)
    assert {d.commit for d in drafts} == {small_repo.repo.head.commit.hexsha}
    drafts, _ = run(small_repo.root, since_commit=small_repo.repo.head.commit.hexsha)
    assert drafts == []
    drafts, ctx = run(small_repo.root, since_commit="0" * 40)
    assert ctx.skips.counts["git_diffs:watermark_unknown"] == 1 and drafts
    drafts, _ = run(small_repo.root, max_commits=1)
    assert {d.commit for d in drafts} == {small_repo.repo.head.commit.hexsha}


def test_skips(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add code", {"a.py": "x = 1\n", "old.py": "y = 2\n" * 5, "gone.py": "z = 3\n"})
    rb.commit("Add assets and deps", {"logo.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "poetry.lock": "a\n",
                                      "vendor/lib.py": "v = 1\n", "big.py": "x = 1\n" * 5000})
    rb.repo.index.move(["old.py", "new.py"])
    rb.repo.index.remove(["gone.py"], working_tree=True)
    rb.commit("Rename old and delete gone")
    main = rb.repo.head.commit
    rb.repo.git.checkout("-b", "side")
    rb.commit("Side change", {"a.py": "x = 2\n"})
    side = rb.repo.head.commit
    rb.repo.git.checkout("main")
    rb.commit("Main change", {"b.py": "b = 1\n"})
    rb.repo.index.commit("Merge side", parent_commits=(rb.repo.head.commit, side), author=ACTOR, committer=ACTOR)
    assert main
    _, ctx = run(rb.root)
    skips = ctx.skips.counts
    for reason in ("binary", "lock_file", "vendored_or_generated", "diff_too_large", "renamed", "deleted",
                   "merge_commit"):
        assert skips[f"git_diffs:{reason}"] >= 1, reason


def test_empty_repo(repo_builder: RepoBuilder) -> None:
    drafts, ctx = run(repo_builder.root)
    assert drafts == [] and ctx.head_commit is None


def test_shallow_clone_and_detached_head(small_repo: RepoBuilder, tmp_path: Path) -> None:
    shallow = git.Repo.clone_from(f"file://{small_repo.root}", tmp_path / "shallow", depth=1)
    drafts, ctx = run(Path(shallow.working_tree_dir))
    assert ctx.head_commit == small_repo.repo.head.commit.hexsha
    assert {d.commit for d in drafts} <= {ctx.head_commit}

    first = small_repo.repo.commit("HEAD~2").hexsha
    small_repo.repo.git.checkout(small_repo.repo.commit("HEAD~1").hexsha)  # detached
    drafts, ctx = run(small_repo.root, since_commit=first)
    assert small_repo.repo.head.is_detached
    assert {d.commit for d in drafts} == {small_repo.repo.head.commit.hexsha}
