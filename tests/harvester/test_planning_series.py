"""Planning from a mature library's history: a change added to a module that already exists,
found from the AST before and after each commit, with its tests and changelog in later commits,
on a real temporary git repository."""

from __future__ import annotations

import git

from services.harvester.base import Context, Skips
from services.harvester.generators.planning import Planning
from services.harvester.generators.planning_changes import read_change
from services.harvester.gitlog import read_commits
from services.harvester.plan import HarvestPlan

from .conftest import RepoBuilder

SIGNER = "def sign(value: str) -> str:\n    return value + '.sig'\n"
UNSIGN = SIGNER + "\n\ndef unsign(signed: str) -> str:\n    return signed.removesuffix('.sig')\n"
TESTS = "from pkg.signer import sign\n\n\ndef test_sign():\n    assert sign('a') == 'a.sig'\n"
CHANGES = "Changes\n=======\n\n- Sign values.\n"


def plans(root) -> tuple[list, Skips]:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=root), skips=Skips())
    return [d for d in Planning().run(ctx) if d.task == "plan_feature"], ctx.skips


def numbered(answer: str) -> list[str]:
    return [ln for ln in answer.splitlines() if ln[:1].isdigit()]


def base(rb: RepoBuilder) -> None:
    rb.commit("Initial import", {"pkg/__init__.py": "", "pkg/signer.py": SIGNER, "tests/test_signer.py": TESTS,
                                 "CHANGES.rst": CHANGES})


def test_a_function_added_to_an_existing_module_then_its_test_and_changelog(repo_builder: RepoBuilder) -> None:
    base(repo_builder)
    start = repo_builder.commit("Add unsign to the signer", {"pkg/signer.py": UNSIGN})
    repo_builder.commit("Unrelated: README", {"README.md": "# pkg\n"})
    repo_builder.commit("Test it", {"tests/test_signer.py": TESTS + "\n\ndef test_unsign_roundtrip():\n"
                                                                    "    assert unsign(sign('a')) == 'a'\n"})
    last = repo_builder.commit("Changelog", {"CHANGES.rst": CHANGES + "- Add `unsign`, the inverse of `sign`.\n"})
    [d], _ = plans(repo_builder.root)
    assert (d.source, d.commit) == (start, last)
    # the prompt shows the goal and every file and name the answer uses
    assert "Goal: Add unsign to the signer" in d.prompt
    assert "Files involved: `CHANGES.rst`, `pkg/signer.py`, `tests/test_signer.py`" in d.prompt
    assert "Code involved: `test_unsign_roundtrip`, `unsign`" in d.prompt
    # the steps in the order the history did them, each from what its commit did to the code
    assert numbered(d.answer) == ["1. In `pkg/signer.py`, add `unsign`.",
                                  "2. In `tests/test_signer.py`, add the test `test_unsign_roundtrip`.",
                                  "3. Add a changelog entry for `unsign` to `CHANGES.rst`."]
    assert "README" not in d.answer and "Test it" not in d.answer  # no commit subjects restated
    assert d.answer.endswith("The steps went in as 3 commits, in this order: steps 1, then 2, then 3. "
                             "Done when the tests in `tests/test_signer.py` pass.")


def test_a_failing_test_first_then_the_fix_with_its_changelog(repo_builder: RepoBuilder) -> None:
    base(repo_builder)
    first = repo_builder.commit("Failing test for empty values", {
        "tests/test_signer.py": TESTS + "\n\ndef test_empty():\n    assert sign('') == ''\n"})
    guarded = SIGNER.replace("    return value", "    if not value:\n        return value\n    return value")
    repo_builder.commit("Do not sign empty values", {"pkg/signer.py": guarded,
                                                     "CHANGES.rst": CHANGES + "- Empty values stay empty.\n"})
    [d], _ = plans(repo_builder.root)
    assert d.source == first and "Goal: Do not sign empty values" in d.prompt  # the goal is the change's
    assert numbered(d.answer) == ["1. In `tests/test_signer.py`, add the test `test_empty`.",
                                  "2. In `pkg/signer.py`, change `sign`.",
                                  "3. Add a changelog entry to `CHANGES.rst`."]
    assert "as 2 commits, in this order: steps 1, then 2-3." in d.answer


def test_bot_docs_only_and_version_bump_commits_are_skipped_and_counted(repo_builder: RepoBuilder) -> None:
    base(repo_builder)
    bot = git.Actor("pre-commit-ci[bot]", "bot@example.org")
    repo_builder.write({"pkg/signer.py": UNSIGN, "tests/test_signer.py": TESTS + "\n\ndef test_unsign():\n    pass\n",
                        "CHANGES.rst": CHANGES + "- Add `unsign`.\n"})
    repo_builder.repo.index.add(["pkg/signer.py", "tests/test_signer.py", "CHANGES.rst"])
    repo_builder.repo.index.commit("[pre-commit.ci] auto fixes", author=bot, committer=bot)
    repo_builder.commit("Sphinx setup", {"docs/conf.py": "def setup(app):\n    app.add_css_file('x.css')\n",
                                         "docs/index.rst": "pkg\n===\n"})
    repo_builder.commit("Document signing", {"docs/index.rst": "pkg\n===\n\nSign with `sign`.\n",
                                             "CHANGES.rst": CHANGES + "- Docs.\n"})
    repo_builder.commit("release version 1.0.0", {"pkg/__init__.py": "__version__ = '1.0.0'\n"})
    found, skips = plans(repo_builder.root)
    assert found == []
    assert skips.counts["planning:bot_author"] == 1
    assert skips.counts["planning:docs_only"] == 2  # docs/conf.py's function is docs work, not the library's
    assert skips.counts["planning:version_bump"] == 1


def test_types_and_docstrings_change_no_definition_and_python2_claims_nothing(repo_builder: RepoBuilder) -> None:
    repo_builder.commit("Initial import", {"pkg/util.py": "def size(x):\n    return len(x)\n",
                                           "pkg/old.py": "def f(x):\n    return x\n"})
    sha = repo_builder.commit("Types", {
        "pkg/util.py": 'def size(x: list) -> int:\n    """How many."""\n    return len(x)\n',
        "pkg/old.py": "def f(x):\n    print x\n\n\ndef g():\n    pass\n"})  # Python 2: does not parse
    repo = git.Repo(repo_builder.root)
    [commit] = read_commits(repo_builder.root, f"{sha}~1..{sha}", 5)
    files = {f.path: f for f in read_change(repo, commit).files}
    util, old = files["pkg/util.py"], files["pkg/old.py"]
    assert (util.added, util.changed, util.same_code) == ([], [], True)
    assert (old.added, old.removed, old.changed) == ([], [], [])  # not "g is new, f is gone"
