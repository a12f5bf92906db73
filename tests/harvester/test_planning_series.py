"""Planning from a mature library's history: a change added to a module that already exists,
found from the AST before and after each commit, with its tests and changelog in later commits,
on a real temporary git repository."""

from __future__ import annotations

import builtins
import keyword
import re

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


_SPAN = re.compile(r"`([^`]+)`")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def assert_grounded(d) -> None:
    """Every name the answer spells in code (`Serializer.__init__`, `ValueError`) is in its prompt."""
    for span in _SPAN.findall(d.answer):
        for word in re.findall(r"[A-Za-z_]\w*", _QUOTED.sub("", span)):
            if word not in dir(builtins) and not keyword.iskeyword(word) and word != "self":
                assert re.search(rf"\b{word}\b", d.prompt), f"{word!r} (in `{span}`) is not in the prompt"


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
    assert "Code involved: `test_unsign_roundtrip`, `unsign(signed)`" in d.prompt  # its signature, as added
    # the steps in the order the history did them, each saying what its commit did to the code
    assert numbered(d.answer) == [
        "1. In `pkg/signer.py`, add `unsign(signed)`.",
        "2. In `tests/test_signer.py`, add the test `test_unsign_roundtrip` to call `unsign`.",
        "3. Add a changelog entry for `unsign` to `CHANGES.rst`."]
    assert_grounded(d)
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
    assert numbered(d.answer) == ["1. In `tests/test_signer.py`, add the test `test_empty` to call `sign`.",
                                  "2. In `pkg/signer.py`, change `sign(value)`: check `not value`, return `value`.",
                                  "3. Add a changelog entry to `CHANGES.rst`."]
    assert "as 2 commits, in this order: steps 1, then 2-3. The test was written first" in d.answer
    assert "`sign(value)`" in d.prompt and "Changelog" not in d.answer  # never the entry's text
    assert_grounded(d)


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


KEYED = ("def sign(value: str, key: str | None = None) -> str:\n"
         "    if key == '':\n"
         "        raise ValueError('an empty key signs nothing')\n"
         "    return value + '.sig'\n")


def test_a_new_parameter_and_a_new_raise_are_what_the_steps_say(repo_builder: RepoBuilder) -> None:
    base(repo_builder)
    repo_builder.commit("Sign with a key", {
        "pkg/signer.py": KEYED,
        "tests/test_signer.py": TESTS + "\n\ndef test_empty_key():\n    import pytest\n"
                                        "    with pytest.raises(ValueError):\n        sign('a', key='')\n",
        "CHANGES.rst": CHANGES + "- Sign with a key (#12).\n"})
    [d], _ = plans(repo_builder.root)
    step1, step2, step3 = numbered(d.answer)
    # what changed in `sign`, read from its AST: the parameter by name and the exception it now raises
    assert step1 == ("1. In `pkg/signer.py`, change `sign(key)`: add the parameter `key` (default `None`), "
                     "raise `ValueError`, check `key == ''`.")
    assert step2 == ("2. In `tests/test_signer.py`, add the test `test_empty_key` to call `sign` and expect "
                     "`pytest.raises(ValueError)`.")
    assert step3 == "3. Add a changelog entry to `CHANGES.rst`."  # not its text: "#12" is no fact of the prompt
    assert "`sign(key)`" in d.prompt and "`ValueError`" in d.prompt and "`pytest.raises`" in d.prompt
    assert "Goal: Sign with a key" in d.prompt and "add the parameter" not in d.prompt  # a request, not the plan
    assert_grounded(d)


def test_docstring_only_and_config_files_are_no_steps(repo_builder: RepoBuilder) -> None:
    base(repo_builder)
    repo_builder.commit("Add util", {"pkg/util.py": "def size(x):\n    return len(x)\n", "tox.ini": "[tox]\n"})
    repo_builder.commit("Sign with a key", {
        "pkg/signer.py": KEYED,
        "pkg/util.py": 'def size(x):\n    """How many items."""\n    return len(x)  # len is O(1)\n',
        "tox.ini": "[tox]\nenvlist = py312\n",
        "tests/test_signer.py": TESTS + "\n\ndef test_key():\n    assert sign('a', key='k') == 'a.sig'\n",
        "CHANGES.rst": CHANGES + "- Sign with a key.\n"})
    [d], skips = plans(repo_builder.root)
    assert [s.split("`")[1] for s in numbered(d.answer)] == ["pkg/signer.py", "tests/test_signer.py", "CHANGES.rst"]
    assert "pkg/util.py" not in d.prompt + d.answer and "tox.ini" not in d.prompt + d.answer
    assert skips.counts["planning:omitted_comment_step"] == 1 and skips.counts["planning:omitted_config_step"] == 1


def test_a_series_whose_steps_only_name_definitions_is_skipped(repo_builder: RepoBuilder) -> None:
    """A plan that could only say "change `sign`; change the test `test_sign`" sorts the prompt's
    names into files: no example, counted."""
    base(repo_builder)
    reworked = "def sign(value: str) -> str:\n    out = value + '.sig'\n    return value + '.sig'\n"
    repo_builder.commit("Rework signing", {
        "pkg/signer.py": reworked,
        "tests/test_signer.py": TESTS.replace("'a.sig'", "'a' + '.sig'"),
        "CHANGES.rst": CHANGES + "- Rework.\n"})
    found, skips = plans(repo_builder.root)
    assert found == [] and skips.counts["planning:name_dump"] == 1


def test_a_deprecation_with_its_test_docs_and_changelog(repo_builder: RepoBuilder) -> None:
    """The warning the code now emits, what the test now expects, the docs' new section and note;
    never the changelog's or the note's version and issue number."""
    base(repo_builder)
    repo_builder.commit("Docs", {"docs/signing.rst": "Signing\n=======\n\nCall `sign`.\n"})
    warn = "    warnings.warn('sign is deprecated', DeprecationWarning, stacklevel=2)\n"
    warned = "import warnings\n\n\n" + SIGNER.replace("    return value", warn + "    return value")
    repo_builder.commit("Deprecate sign", {
        "pkg/signer.py": warned,
        "tests/test_signer.py": TESTS.replace("    assert sign('a') == 'a.sig'\n",
                                              "    import pytest\n    with pytest.deprecated_call():\n"
                                              "        assert sign('a') == 'a.sig'\n"),
        "docs/signing.rst": "Signing\n=======\n\n.. deprecated:: 2.0\n    Use HMAC.\n\nCall `sign`.\n\n"
                            "Migrating away\n--------------\n\nUse HMAC.\n",
        "CHANGES.rst": CHANGES + "- Deprecate `sign` in 2.0.1 (#7).\n"})
    [d], _ = plans(repo_builder.root)
    assert numbered(d.answer) == [
        "1. In `pkg/signer.py`, change `sign`: warn with `DeprecationWarning`.",
        "2. In `tests/test_signer.py`, change the test `test_sign` to expect `pytest.deprecated_call()`.",
        '3. In `docs/signing.rst`, add a deprecation notice, add the section "Migrating away".',
        "4. Add a changelog entry to `CHANGES.rst`."]
    assert "2.0" not in d.answer and "#7" not in d.answer
    assert "`DeprecationWarning`" in d.prompt and "`pytest.deprecated_call`" in d.prompt
    assert_grounded(d)
