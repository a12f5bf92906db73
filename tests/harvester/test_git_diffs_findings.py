"""git_diffs on real repositories: trivial commits get no review (counted), a review states
findings checked against the tree at the commit (file:line), and an edit never adds a literal its
prompt does not show."""

from __future__ import annotations

from pathlib import Path

from services.harvester.base import Context, Skips
from services.harvester.core import HarvestPlan
from services.harvester.generators.git_diffs import GitDiffs

from .conftest import RepoBuilder

SIGNER = '''class Signer:
    def __init__(self, secret_key):
        self.secret_key = secret_key

    def sign(self, value):
        return value + self.secret_key
'''
USER = '''from pkg.signer import Signer


def token(value):
    s = Signer("k")
    return s.sign(value) + s.secret_key
'''


def run(root: Path) -> tuple[list, Context]:
    ctx = Context(plan=HarvestPlan(specialist="coder", repo=root), skips=Skips())
    return list(GitDiffs().run(ctx)), ctx


def test_trivial_commits_get_no_review_and_are_counted(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add the package", {"pkg/__init__.py": '__version__ = "1.0.0"\n', "CHANGES.rst": "1.0.0\n-----\n",
                                  "pkg/core.py": "def add(a, b):\n    return a + b\n",
                                  "docs/index.md": "See https://old.example.org/guide for details.\n"})
    rb.commit("Release version 1.0.1", {"pkg/__init__.py": '__version__ = "1.0.1"\n'})
    rb.commit("Describe the next release", {"CHANGES.rst": "1.0.1\n-----\n\n- Faster add.\n\n1.0.0\n-----\n"})
    rb.commit("Point the docs at the new site", {"docs/index.md": "See https://example.org/guide for details.\n"})
    rb.commit("Annotate add for type checkers",
              {"pkg/core.py": "def add(a: int, b: int) -> int:\n    return a + b  # pyright: ignore\n"})
    rb.commit("Tidy blank lines in core", {"pkg/core.py": "def add(a: int, b: int) -> int:\n\n    return a + b"
                                                          "  # pyright: ignore\n"})
    drafts, ctx = run(rb.root)
    trivial = {rb.repo.commit(f"HEAD~{i}").hexsha for i in range(5)}
    assert not [d for d in drafts if d.task in ("diff_review", "diff_edit") and d.commit in trivial]
    for reason in ("review_version_bump", "review_changelog_only", "review_docs_links_only",
                   "review_annotation_only", "review_whitespace_only", "edit_version_bump"):
        assert ctx.skips.counts[f"git_diffs:{reason}"] == 1, reason


def test_a_removed_attribute_still_read_elsewhere_is_named_with_file_and_line(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    other = "class Box:\n    def __init__(self):\n        self.secret_key = 1\n\n    def get(self):\n" \
            "        return self.secret_key\n"
    rb.commit("Add the signer and a user of it", {"pkg/signer.py": SIGNER, "pkg/user.py": USER, "pkg/box.py": other})
    rb.commit("Signer can accept several secret keys", {"pkg/signer.py": SIGNER.replace(
        "self.secret_key = secret_key", "self.secret_keys = [secret_key]").replace(
        "value + self.secret_key", "value + self.secret_keys[-1]")})
    drafts, ctx = run(rb.root)
    review = next(d for d in drafts if d.task == "diff_review")
    assert "The attribute `Signer.secret_key` is removed from `pkg/signer.py`" in review.answer
    assert "`pkg/user.py:6` (`return s.sign(value) + s.secret_key`)" in review.answer  # found by git grep
    assert "pkg/box.py" not in review.answer  # Box sets and reads its own `secret_key`: not this one
    # the prompt shows the lines a finding cites, as a reviewer with the repository sees them
    assert review.prompt.endswith("names this diff touches:\npkg/user.py:6: return s.sign(value) + s.secret_key")
    # `sign` changed and no test mentions it: checked on the tree too
    assert "no test file in the tree at this commit mentions `sign`" in review.answer
    assert "Risk to check" not in review.answer and "three lines" not in review.answer


def test_signature_change_lists_calls_still_passing_a_removed_keyword(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add load", {"pkg/io.py": "def load(path, strict=False):\n    return open(path).read()\n",
                           "pkg/app.py": "from pkg.io import load\n\n\ndef main():\n"
                                         "    return load('a', strict=True)\n",
                           "tests/test_io.py": "import pytest\n\n\n@pytest.mark.skip(reason='slow')\n"
                                               "def test_load():\n    assert load\n"})
    rb.commit("Drop the strict flag of load", {
        "pkg/io.py": "def load(path):\n    if not path:\n        raise ValueError(path)\n"
                     "    return open(path).read()\n",
        "tests/test_io.py": "import pytest\n\n\ndef test_load():\n    assert load\n"})
    drafts, _ = run(rb.root)
    review = next(d for d in drafts if d.task == "diff_review")
    assert "`load` changes its signature from `(path, strict=False)` to `(path)`" in review.answer
    assert "yet these calls still pass it by keyword: `pkg/app.py:5`" in review.answer
    assert "`load` in `pkg/io.py` can now raise `ValueError`; nothing in the tree at this commit catches" \
        in review.answer
    assert "no longer has `pytest.mark.skip(reason='slow')`: it now runs" in review.answer


def test_an_edit_adding_a_literal_the_prompt_does_not_show_is_skipped(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    body = "def fetch(url):\n    timeout = 10\n    return get(url, timeout=timeout)\n"
    rb.commit("Add fetch", {"pkg/net.py": body})
    rb.commit("Raise the fetch timeout", {"pkg/net.py": body.replace("10", "30")})  # 30: from nowhere
    rb.commit("Pass the url as timeout too", {"pkg/net.py": body.replace("10", "30").replace(
        "timeout=timeout", "timeout=url")})  # every literal added is in the shown code
    drafts, ctx = run(rb.root)
    edits = [d for d in drafts if d.task == "diff_edit"]
    assert ctx.skips.counts["git_diffs:edit_unsupported_literal"] == 1
    assert [d.commit for d in edits] == [rb.repo.head.commit.hexsha]
    assert "timeout=url" in edits[0].answer


def test_a_new_warning_and_a_changed_class_attribute_name_who_sees_them(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    jws = "class JWS:\n    fallbacks = ['sha512']\n\n    def __init__(self, key):\n        self.key = key\n"
    rb.commit("Add JWS", {"pkg/jws.py": jws, "tests/test_jws.py": "from pkg.jws import JWS\n\n\n"
                                                                  "def test_jws():\n    assert JWS('k').fallbacks\n",
                          "setup.cfg": "[metadata]\nname = pkg\n"})
    rb.commit("Deprecate JWS and drop its fallback", {
        "pkg/jws.py": "import warnings\n\n\n" + jws.replace("['sha512']", "[]").replace(
            "        self.key = key\n", "        warnings.warn('use authlib', DeprecationWarning)\n"
                                       "        self.key = key\n"),
        "setup.cfg": "[metadata]\nname = pkg\nlicense = BSD\n"})
    drafts, ctx = run(rb.root)
    review = next(d for d in drafts if d.task == "diff_review")
    assert ("`JWS.__init__` in `pkg/jws.py` now emits `DeprecationWarning`; these calls in the tree will see it: "
            "`tests/test_jws.py:5` (`assert JWS('k').fallbacks`)") in review.answer
    assert "`JWS.fallbacks` in `pkg/jws.py` changes from `['sha512']` to `[]`; it is read at `tests/test_jws.py:5`" \
        in review.answer
    # tool config is not edit practice: which key a message means is a guess
    assert ctx.skips.counts["git_diffs:edit_config"] == 1
    assert all(d.path != "setup.cfg" for d in drafts if d.task == "diff_edit")
