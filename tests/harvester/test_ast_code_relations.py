"""ast_code's relation questions on a small real package: who calls what (with the arguments),
where an exception is raised and caught, what derives from a class; attribute calls that must
not resolve to a same-named fixture; and no prompt+answer emitted twice."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from services.harvester.base import Context, Skips
from services.harvester.core import HarvestPlan
from services.harvester.generators.ast_code import AstCode

EXC = '''class BadData(Exception):
    """Raised for bad data."""


class BadSignature(BadData):
    """Raised if a signature does not match."""
'''
SIGNER = '''from .exc import BadSignature


class Signer:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def unsign(self, value: bytes) -> bytes:
        if b"." not in value:
            raise BadSignature("no separator")
        return value.split(b".")[0]

    def sign_twice(self, value: bytes) -> bytes:
        return self.sign(self.sign(value))


class Serializer:
    signer = Signer  # a class attribute: `self.signer(...)` builds a Signer

    def make_signer(self) -> Signer:
        return self.signer(b"k")

    def loads(self, s: bytes) -> bytes:
        try:
            return self.make_signer().unsign(s)
        except BadSignature:
            return b""


class Stamp:  # the repo's one `sign`: Signer.sign_twice's `self.sign` is not it
    def sign(self, value: bytes) -> bytes:
        return value + b"!"
'''
INIT = "from .exc import BadData, BadSignature\nfrom .signer import Serializer, Signer\n"
TESTS = '''import pytest

from pkg import BadData, Signer


class TestSigner:
    @pytest.fixture()
    def signer(self):
        return Signer(b"secret")

    def test_unsign(self, signer):
        try:
            signer.unsign(b"x")
        except BadData:
            pass
'''
TWINS = '''class Box:
    def size(self) -> int:
        """Number of items."""
        return len(self.items)


class Crate:
    def size(self) -> int:
        """Number of items."""
        return len(self.items)
'''


def harvest(root: Path) -> tuple[list, Counter]:
    ctx = Context(plan=HarvestPlan(specialist="orchestrator", repo=root), skips=Skips())
    return list(AstCode().run(ctx)), ctx.skips.counts


def test_relations_of_a_small_package(repo_builder) -> None:  # noqa: ANN001
    repo_builder.commit("add", {"pkg/__init__.py": INIT, "pkg/exc.py": EXC, "pkg/signer.py": SIGNER,
                                "tests/test_signer.py": TESTS})
    drafts, skips = harvest(repo_builder.root)
    callers = {d.prompt.split("`")[1]: d.answer for d in drafts if d.task == "function_callers"}

    # `self.signer(...)` calls the class attribute; the fixture TestSigner.signer is called by no one
    assert "tests.test_signer.TestSigner.signer" not in callers
    assert not [d for d in drafts if d.task == "explain_function" and "TestSigner.signer" in d.prompt]
    # a `self.` call resolves to the class's own method, or to nothing (Signer has no `sign`)
    assert "`self.make_signer()` in `Serializer.loads` (line 25)" in callers["pkg.signer.Serializer.make_signer"]
    assert "pkg.signer.Stamp.sign" not in callers and not any("sign_twice" in a for a in callers.values())
    # `x.unsign(...)` on an object of unknown type: the one `unsign` in the repo, test call included
    unsign = callers["pkg.signer.Signer.unsign"]
    assert "`self.make_signer().unsign(s)` in `Serializer.loads` (line 25)" in unsign
    assert "`signer.unsign(b'x')` in `TestSigner.test_unsign` (line 13)" in unsign

    # the explanation is asked without the code and names what the body alone cannot show
    [explain] = [d for d in drafts if d.task == "explain_function" and "`Signer.unsign`" in d.prompt]
    assert "```" not in explain.prompt and "separator" not in explain.prompt
    assert "raises `BadSignature` when `b'.' not in value` (line 10)" in explain.answer
    assert "in `pkg.signer`: `Serializer.loads` (line 25)" in explain.answer and "1 of them is a test" in explain.answer

    # an exception: raised where, caught where (by name and through its base, re-exports followed)
    [bad_sig] = [d for d in drafts if d.task == "explain_class" and "`BadSignature`" in d.prompt]
    assert "raised and where it is caught" in bad_sig.prompt
    assert "deriving from `BadData` (`pkg.exc`, line 1)" in bad_sig.answer
    assert "`raise BadSignature('no separator')` in `Signer.unsign` (line 10)" in bad_sig.answer
    assert "caught by name at 1 site(s):\n- in `pkg.signer`: `except BadSignature` in `Serializer.loads` " \
           "(line 26)" in bad_sig.answer
    assert "`except BadData` at line 14 in `TestSigner.test_unsign` (`tests.test_signer`)" in bad_sig.answer
    # raising is not also reported as creating it
    assert "instantiated" not in bad_sig.answer
    [signer] = [d for d in drafts if d.task == "explain_class" and "`Signer`" in d.prompt]
    assert "`Signer(b'secret')` in `TestSigner.signer` (line 9)" in signer.answer

    # no relation, nothing to say beyond the body: skipped with a named reason
    assert not [d for d in drafts if d.task == "explain_function" and "sign_twice" in d.prompt]
    assert skips["ast_code:explain_no_callers"] >= 1 and skips["ast_code:class_no_relations"] >= 1


def test_the_same_prompt_and_answer_is_emitted_once(tmp_path: Path) -> None:
    (tmp_path / "boxes.py").write_text(TWINS)
    drafts, skips = harvest(tmp_path)
    # two methods with the same signature, docstring and body make the same "implement it" pair
    assert [d.task for d in drafts].count("write_function") == 1
    assert skips["ast_code:duplicate"] == 1
    assert len({d.messages for d in drafts}) == len(drafts)


def test_relation_answers_state_no_path_their_prompt_lacks(repo_builder) -> None:  # noqa: ANN001
    """Places are named by module: the judge's unsupported-fact filter (a real judge filter, run
    here as the service runs it) drops an answer naming a file path its prompt does not show."""
    from services.judge.filters.unsupported import UnsupportedFactFilter
    from shared.events import Example, Provenance

    repo_builder.commit("add", {"pkg/__init__.py": INIT, "pkg/exc.py": EXC, "pkg/signer.py": SIGNER,
                                "tests/test_signer.py": TESTS})
    drafts, _ = harvest(repo_builder.root)
    relations = [d for d in drafts if d.task in ("explain_function", "explain_class", "function_callers")]
    assert len(relations) >= 6
    for d in relations:
        example = Example.build(specialist="orchestrator", category="architecture", generator="ast_code",
                                messages=list(d.messages), provenance=Provenance(source=d.source))
        assert UnsupportedFactFilter().filter(example).keep, d.answer


GENERIC = '''class Base:
    def load(self, s: str) -> str:
        return s


class Child(Base[str]):
    def load(self, s: str) -> str:
        return super().load(s).strip()


class Other:
    def load(self, s: str) -> str:
        return s


def use(obj) -> str:
    return obj.load("x")
'''


def test_generic_bases_super_calls_and_calls_that_may_reach_a_method(tmp_path: Path) -> None:
    (tmp_path / "gen.py").write_text(GENERIC)
    drafts, _ = harvest(tmp_path)
    [base] = [d for d in drafts if d.task == "explain_class" and "`Base`" in d.prompt]
    assert "Subclass `Child` (`gen`, line 6) overrides `load`." in base.answer  # `Base[str]` is Base
    [callers] = [d for d in drafts if d.task == "function_callers" and "`gen.Base.load`" in d.prompt]
    assert "`super().load(s)` in `Child.load` (line 8)" in callers.answer
    # `obj.load(...)`: three classes define `load`, so it is not claimed, only said to possibly reach it
    assert "1 more call(s) of a `.load(...)` method, in `gen`, are on objects whose class the code does " \
           "not name" in callers.answer


def test_implement_it_shows_the_decorators(tmp_path: Path) -> None:
    prop = 'class Box:\n    @property\n    def size(self) -> int:\n        """Number of items."""\n' \
           '        return len(self.items)\n'
    (tmp_path / "box.py").write_text(prop)
    drafts, _ = harvest(tmp_path)
    [impl] = [d for d in drafts if d.task == "write_function"]
    # `@property` is part of the contract: a caller reads `box.size`, it does not call it
    assert '@property\ndef size(self) -> int:\n    """Number of items."""' in impl.prompt
    assert impl.answer == '```python\n@property\ndef size(self) -> int:\n    """Number of items."""\n' \
                          '    return len(self.items)\n```'


LONG_RETURN = '''def build(parts: list[str]) -> str:
    return "-".join(p.strip().lower() for p in parts if p and not p.startswith("#") and len(p) < 4096) + (
        "/" + str(len(parts)) + "/" + str(sum(len(p) for p in parts)))


def short(x: int) -> int:
    return x + 1


def use() -> str:
    return build(["a"]) + str(short(1))
'''


def test_an_answer_quotes_a_return_expression_whole_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "mod.py").write_text(LONG_RETURN)
    drafts, _ = harvest(tmp_path)
    explains = {d.prompt.split("`")[1]: d.answer for d in drafts if d.task == "explain_function"}
    # a hand-read sample rated "It returns `self.signer(self.secret_keys, salt=salt, **self.signer_kwar…`"
    # truncated: a long expression is left out rather than cut
    assert "It returns" not in explains["build"] and "…" not in explains["build"]
    assert "It returns `x + 1` (declared `int`)." in explains["short"]
