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
    assert review.prompt.endswith("names this diff touches:\npkg/signer.py:6: return value + self.secret_keys[-1]"
                                  "\npkg/user.py:6: return s.sign(value) + s.secret_key")
    # `sign` returns something else now: the callers using its result, checked on the tree too
    assert ("`Signer.sign` now returns `value + self.secret_keys[-1]` at `pkg/signer.py:6`" in review.answer
            and "to check against the new value: `pkg/user.py:6`" in review.answer)
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


def reviews(drafts: list, sha: str) -> str:
    """Every review answer of one commit (a large commit is reviewed per group of files)."""
    return "\n".join(d.answer for d in drafts if d.task == "diff_review" and d.commit == sha)


ENC = '''import base64


class BadData(Exception):
    pass


def decode(s):
    try:
        return base64.b64decode(s)
    except ValueError:
        raise BadData("invalid")


def pick(table, name):
    try:
        return table[name]
    except KeyError:
        raise NotImplementedError(name)
'''


def test_exception_chaining_is_named_first_when_the_message_states_it(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    other = "def parse(s):\n    try:\n        return int(s)\n    except ValueError as e:\n        raise TypeError(s)\n"
    rb.commit("Add decoding", {"pkg/enc.py": ENC, "pkg/other.py": other})
    sha = rb.commit("use exception chaining", {"pkg/other.py": other.replace("TypeError(s)", "TypeError(s) from e"),
                                               "pkg/enc.py": ENC.replace(
        "except ValueError:\n        raise BadData(\"invalid\")",
        "except ValueError as e:\n        raise BadData(\"invalid\") from e").replace(
        "raise NotImplementedError(name)", "raise NotImplementedError(name) from None")})
    drafts, _ = run(rb.root)
    answer = reviews(drafts, sha)
    checks = answer.split("What a reviewer should check:\n", 1)[1].splitlines()
    assert checks[0].startswith("- `decode` raises `BadData`, `parse` raises `TypeError` from the caught exception "
                                "now (`pkg/enc.py:12` (`raise BadData(\"invalid\") from e`), `pkg/other.py:5`")
    assert "direct cause" in checks[0] and "`__cause__` is set to it" in checks[0]
    # every site of the commit in one finding: the effect is said once, the sites all named
    assert answer.count("`__cause__` is set") == 1
    assert ("`pick` raises `NotImplementedError` `from None` now (`pkg/enc.py:19`" in checks[1]
            and "no longer shows the exception that was being handled" in checks[1])
    # "no test mentions `decode`" misses the commit's point: the specific findings replace it
    assert "The behaviour of" not in answer


def test_a_changed_return_value_names_the_callers_that_use_it(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    timed = "from datetime import datetime, timezone\n\n\ndef to_dt(ts):\n    return datetime.utcfromtimestamp(ts)\n"
    app = "from pkg.timed import to_dt\n\n\ndef age(now, ts):\n    to_dt(ts)\n    return now - to_dt(ts)\n"
    rb.commit("Add timestamps", {"pkg/timed.py": timed, "pkg/app.py": app})
    sha = rb.commit("datetimes are timezone-aware utc", {"pkg/timed.py": timed.replace(
        "datetime.utcfromtimestamp(ts)", "datetime.fromtimestamp(ts, tz=timezone.utc)")})
    drafts, _ = run(rb.root)
    answer = reviews(drafts, sha)
    assert ("`to_dt` now returns `datetime.fromtimestamp(ts, tz=timezone.utc)` at `pkg/timed.py:5`" in answer
            and "where it returned `datetime.utcfromtimestamp(ts)`" in answer)
    assert "callers that use the result, to check against the new value: `pkg/app.py:6` (`return now - to_dt(ts)`)" \
        in answer
    assert "pkg/app.py:5" not in answer  # a bare `to_dt(ts)` statement discards the result
    assert "The behaviour of `to_dt`" not in answer  # the return finding already names it


LOAD = '''def load(path, strict=False):
    if not path:
        raise ValueError("no path")
    return open(path).read()
'''


def test_a_new_default_a_new_raise_case_and_accepting_none(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add load", {"pkg/io.py": LOAD, "pkg/app.py": "from pkg.io import load\n\n\ndef main():\n"
                                                              "    a = load('a')\n    b = load('b', strict=False)\n"
                                                              "    return a + b + load(None)\n"})
    sha = rb.commit("load is strict by default and refuses huge files", {"pkg/io.py": LOAD.replace(
        "strict=False", "strict=True").replace(
        '        raise ValueError("no path")\n',
        '        raise ValueError("no path")\n    if path is None:\n        path = "default.cfg"\n'
        '    if len(path) > 100:\n        raise ValueError("too long")\n')})
    drafts, _ = run(rb.root)
    answer = reviews(drafts, sha)
    assert ("The default of `strict` in `load` (`pkg/io.py`) changes from `False` to `True`; calls that do not pass "
            "`strict=` (unless they pass it by position) now get the new default: `pkg/app.py:5`") in answer
    assert "pkg/app.py:6" not in answer  # passes strict= itself
    assert ("`load` in `pkg/io.py` raises `ValueError` in a new case, when `len(path) > 100` (`pkg/io.py:7`"
            in answer)
    assert "`load` in `pkg/io.py` now handles `path` being None (`pkg/io.py:4`" in answer


def test_new_api_and_new_tests_name_what_exercises_what(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    rb.commit("Add the signer and a user of it", {"pkg/signer.py": SIGNER, "pkg/user.py": USER})
    sha = rb.commit("Add key rotation", {
        "pkg/signer.py": SIGNER + "\n    def rotate_key(self, key):\n        self.secret_key = key\n"
                                  "\n\ndef unused_helper():\n    return 1\n",
        "tests/test_signer.py": "from pkg.signer import Signer\nfrom pkg.user import token\n\n\n"
                                "def test_rotate():\n    s = Signer('a')\n    s.rotate_key('b')\n"
                                "    assert s.secret_key == 'b'\n\n\ndef test_token():\n    assert token('v')\n"})
    drafts, _ = run(rb.root)
    answer = reviews(drafts, sha)
    assert ("The new method `Signer.rotate_key` in `pkg/signer.py` is exercised by `tests/test_signer.py:7` "
            "(`s.rotate_key('b')`) (in `test_rotate`); `tests/test_signer.py` is changed in this same commit") in answer
    assert "The new function `unused_helper` in `pkg/signer.py` is not mentioned by any test file" in answer
    assert ("The new test `test_token` (`tests/test_signer.py:11` (`def test_token():`)) exercises `token` (defined at "
            "`pkg/user.py:4` (`def token(value):`)); `token` is in files this commit does not change, so the test "
            "pins down behaviour that already exists") in answer


def test_removals_a_deleted_module_a_dropped_reexport_and_a_raised_python_floor(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    getattr_src = ("import warnings\n\n\ndef __getattr__(name):\n    if name == '__version__':\n"
                   "        warnings.warn('deprecated', DeprecationWarning)\n        return '1.0'\n"
                   "    raise AttributeError(name)\n")
    rb.commit("Add the package", {
        "pkg/__init__.py": "from .enc import want_bytes\n",
        "pkg/enc.py": "def want_bytes(s):\n    return s.encode()\n",
        "pkg/_compat.py": "text_type = str\n",
        "pkg/user.py": "from pkg._compat import text_type\n",
        "tests/test_enc.py": "from pkg import want_bytes\n\n\ndef test_wb():\n    assert want_bytes('a')\n",
        "pyproject.toml": '[project]\nname = "pkg"\nrequires-python = ">=3.8"\n',
        "tox.ini": "[tox]\nenvlist = py39, py310\n"})
    deprecate = rb.commit("deprecate __version__", {"pkg/__init__.py": "from .enc import want_bytes\n" + getattr_src,
                                                    "docs/index.md": "Check `pkg.__version__`.\n"})
    sha = rb.commit("drop Python 3.8 and 3.9, the compat module and old imports", {
        "pkg/__init__.py": "X_VERSION = 1\n",
        "pyproject.toml": '[project]\nname = "pkg"\nrequires-python = ">=3.10"\n'}, remove=("pkg/_compat.py",))
    drafts, _ = run(rb.root)
    assert ("Reading `__version__` from the module `pkg/__init__.py` now goes through `__getattr__` and emits "
            "`DeprecationWarning`; these lines in the tree read it and will see the warning: `docs/index.md:1`") \
        in reviews(drafts, deprecate)
    answer = reviews(drafts, sha)
    # the deleted file's diff is not shown, so the prompt says it is gone (the answer invents no path)
    assert any(d.prompt.endswith("Files this commit deletes (diff not shown): pkg/_compat.py") for d in drafts
               if d.task == "diff_review" and d.commit == sha)
    assert ("The module `pkg/_compat.py` is deleted, but the tree at this commit still imports `_compat` at "
            "`pkg/user.py:1` (`from pkg._compat import text_type`)") in answer
    assert ("`want_bytes` is no longer imported into `pkg/__init__.py`, so `from pkg import want_bytes` fails; the "
            "tree at this commit still does that at `tests/test_enc.py:1`") in answer
    assert ("The deprecated `__version__` of the module `pkg/__init__.py` is removed (its `__getattr__` shim is "
            "gone), so reading it raises `AttributeError`; the tree at this commit still reads it at `docs/index.md:1`"
            ) in answer
    assert ("The minimum Python rises from 3.8 to 3.10 (`pyproject.toml:3` (`requires-python = \">=3.10\"`)); these "
            "lines still name a version below 3.10 (a dead version check, a CI job or marker for a dropped version): "
            "`tox.ini:2` (`envlist = py39, py310`)") in answer


def test_a_raise_in_a_new_handler_is_a_conversion_not_a_new_case(repo_builder: RepoBuilder) -> None:
    rb = repo_builder
    body = "def check(ts):\n    if ts is None:\n        raise BadTime('missing')\n    return ts\n"
    rb.commit("Add check", {"pkg/t.py": body})
    sha = rb.commit("catch year overflow", {"pkg/t.py": body.replace("    return ts\n", (
        "    if ts > 0:\n        try:\n            return to_dt(ts)\n        except ValueError as e:\n"
        "            raise BadTime('overflow') from e\n    return ts\n"))})
    drafts, _ = run(rb.root)
    answer = reviews(drafts, sha)
    assert "`check` in `pkg/t.py` now catches `ValueError` and raises `BadTime` in its place" in answer
    assert "in a new case" not in answer  # the handler's raise is the conversion above, not a new `if` case
