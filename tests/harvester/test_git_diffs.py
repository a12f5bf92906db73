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
        ("bump version", ["pyproject.toml"], "release"),
        ("Bump version to 2.4.1", ["CHANGES.rst", "docs/conf.py"], "release"),  # not "docs"
        ("Release 3.0.0", ["CHANGES.md"], "release"),
        ("tidy", ["pyproject.toml"], "other"),
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
    assert all(d.hint == "bugfix" for d in fix)
    review = next(d for d in fix if d.task == "diff_review")
    # The message is in the prompt as the author's claim; the answer is read off the diff.
    assert "> Fix off-by-one" in review.prompt and "value[:-1].strip()" in review.prompt
    assert "changes the code of `parse_line`" in review.answer and "becomes" not in review.answer
    assert 'stated reason is "Fix off-by-one' in review.answer
    # the finding is checked against the tree at the commit (the test arrives one commit later)
    assert "no test file in the tree at this commit mentions `parse_line`" in review.answer
    assert "Risk to check" not in review.answer
    assert not review.answer.startswith("This is a")
    edit = next(d for d in fix if d.task == "diff_edit")
    assert "value[:-1]" in edit.prompt and "value[:-1]" not in edit.answer
    assert edit.lines is not None and edit.lines[0] >= 1
    msg = next(d for d in fix if d.task == "commit_message")
    assert msg.answer.startswith("Fix off-by-one") and "-    return key.strip(), value[:-1].strip()" in msg.prompt


def test_one_review_per_commit_not_per_file(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add three modules", {f"pkg/m{i}.py": f"def f{i}(x):\n    return x + {i}\n" for i in range(3)})
    rb.commit("Make every module double its input",
              {f"pkg/m{i}.py": f"def f{i}(x, factor=2):\n    return x * factor + {i}\n" for i in range(3)})
    drafts, ctx = run(rb.root)
    reviews = [d for d in drafts if d.task == "diff_review"]
    # the first commit only adds files: nothing a reviewer could miss, so no review, counted
    assert len(reviews) == 1 and ctx.skips.counts["git_diffs:review_no_finding"] == 1
    last = reviews[-1].answer
    assert "3 files" in last and all(f"`pkg/m{i}.py`" in last for i in range(3))
    assert "`f0` changes its signature from `(x)` to `(x, factor=2)`" in last
    assert "No call of `f0(...)` with arguments is in the tree at this commit" in last


def test_bots_and_pin_only_commits_are_skipped_and_counted(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add code", {"a.py": "def a():\n    return 1\n"})
    bot = git.Actor("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
    rb.write({"a.py": "def a():\n    return 2\n"})
    rb.repo.index.add(["a.py"])
    rb.repo.index.commit("Bump a from 1 to 2", author=bot, committer=bot)
    ci = git.Actor("pre-commit-ci[bot]", "66853113+pre-commit-ci[bot]@users.noreply.github.com")
    rb.write({".pre-commit-config.yaml": "repos: []\n"})
    rb.repo.index.add([".pre-commit-config.yaml"])
    rb.repo.index.commit("[pre-commit.ci] pre-commit autoupdate", author=ci, committer=ci)
    rb.commit("update dependencies", {"requirements/tests.txt": "pytest==8.3.4\n", "poetry.lock": "x\n",
                                      ".github/workflows/ci.yml": "uses: actions/checkout@v4\n"})
    drafts, ctx = run(rb.root)
    assert ctx.skips.counts["git_diffs:bot_author"] == 2
    assert ctx.skips.counts["git_diffs:pins_only"] == 1
    assert {d.commit for d in drafts} <= {rb.repo.commit("HEAD~3").hexsha}  # only the human's code commit


def test_commit_message_drops_forge_references(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add the loader", {"load.py": "def load(p):\n    return open(p).read()\n"})
    rb.commit("Close the file the loader opens (#512)\n\nFixes #511", {"load.py": (
        "def load(p):\n    with open(p) as f:\n        return f.read()\n")})
    drafts, _ = run(rb.root)
    msg = [d for d in drafts if d.task == "commit_message"][-1]
    assert msg.answer == "Close the file the loader opens"
    review = [d for d in drafts if d.task == "diff_review"][-1]
    assert "#512" not in review.prompt + review.answer and "#511" not in review.answer


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


def test_a_commit_too_large_for_one_prompt_is_reviewed_by_package_area(repo_builder: RepoBuilder) -> None:
    from services.harvester.generators.git_diffs import MAX_COMMIT_DIFF_CHARS, MAX_REVIEW_GROUPS

    rb = repo_builder
    body = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(40))  # ~2.7k chars of diff a file
    areas = ("services/judge", "services/trainer", "services/api")
    rb.commit("Add the judge, the trainer and the api", {f"{a}/m{i}.py": "" for a in areas for i in range(3)})
    files = {f"{area}/m{i}.py": body for area in areas for i in range(3)}
    assert sum(len(v) for v in files.values()) > MAX_COMMIT_DIFF_CHARS
    rb.commit("Fill in the judge, the trainer and the api", files)
    files = {p: body.replace("return x + ", "return x - ") for p in files}
    rb.commit("Subtract instead of adding everywhere", files)
    drafts, _ = run(rb.root)
    reviews = [d for d in drafts if d.task == "diff_review" and d.commit == rb.repo.head.commit.hexsha]
    assert 1 < len(reviews) <= MAX_REVIEW_GROUPS
    assert [r.prompt.split(": what")[0].split("files under ")[1] for r in reviews] == [
        "`services/api`)", "`services/judge`)", "`services/trainer`)"]
    assert all(r.answer.startswith("What changed: This part of the commit touches 3 files") for r in reviews)
