"""How pytest sees a repository's tests, read from the AST without importing anything: which
functions are tests (`test*` at module level, `test*` methods of `Test*` classes), the name a test
module is imported under, and the fixtures a test gets, looked up as pytest does: its class and that
class's bases (across test modules), its module, each `conftest.py` above it, then pytest's own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from services.harvester.generators.ast_code import Index, Module

# pytest's own fixtures: a test may take them without any source in the repo
BUILTIN_FIXTURES = frozenset({
    "request", "tmp_path", "tmp_path_factory", "tmpdir", "tmpdir_factory", "monkeypatch", "capsys", "capsysbinary",
    "capfd", "capfdbinary", "caplog", "recwarn", "pytestconfig", "cache", "doctest_namespace", "record_property",
    "record_testsuite_property", "record_xml_attribute", "pytester", "testdir",
})
FnNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Fixture:
    name: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    mod: Module
    cls: str | None  # the test class that defines it
    autouse: bool

    @property
    def requests(self) -> list[str]:
        a = self.node.args
        names = [x.arg for x in [*a.posonlyargs, *a.args, *a.kwonlyargs]]
        return names[1:] if self.cls and names[:1] == ["self"] else names


def pytest_module(root: Path, rel: str) -> str:
    """The name pytest imports a test module under (rootdir insertion): the packages above it, up
    to the first directory without `__init__.py`."""
    parts = Path(rel).with_suffix("").parts
    i = len(parts) - 1
    while i > 0 and (root / Path(*parts[:i]) / "__init__.py").is_file():
        i -= 1
    return ".".join(parts[i:]).removesuffix(".__init__")


def fixture_info(fn: ast.AST) -> tuple[str, bool] | None:
    """(fixture name, autouse) when `fn` is decorated with `pytest.fixture`, else None."""
    for d in getattr(fn, "decorator_list", []):
        target = d.func if isinstance(d, ast.Call) else d
        if ast.unparse(target) in ("pytest.fixture", "fixture", "pytest_asyncio.fixture", "pytest.yield_fixture"):
            kw = {k.arg: k.value for k in d.keywords} if isinstance(d, ast.Call) else {}
            name = kw.get("name")
            auto = kw.get("autouse")
            return (name.value if isinstance(name, ast.Constant) and isinstance(name.value, str) else fn.name,  # type: ignore[attr-defined]
                    isinstance(auto, ast.Constant) and auto.value is True)
    return None


def parametrized(fn: FnNode) -> list[str]:
    """The argument names `@pytest.mark.parametrize` supplies (not fixtures, unless indirect)."""
    out: list[str] = []
    for d in fn.decorator_list:
        if not (isinstance(d, ast.Call) and ast.unparse(d.func).endswith("mark.parametrize") and d.args):
            continue
        if any(k.arg == "indirect" for k in d.keywords):
            continue
        first = d.args[0]
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            out += [n.strip() for n in first.value.split(",") if n.strip()]
        elif isinstance(first, ast.List | ast.Tuple):
            out += [e.value for e in first.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return out


class PytestItem:
    """One test function and the scopes pytest resolves its fixtures in."""

    def __init__(self, mod: Module, fn: FnNode, cls: ast.ClassDef | None, scopes: list[dict[str, Fixture]],
                 mro: list[tuple[ast.ClassDef, Module]]) -> None:
        self.mod, self.fn, self.cls, self.scopes, self.mro = mod, fn, cls, scopes, mro

    def lookup(self, name: str, start: int = 0) -> tuple[int, Fixture] | None:
        for i in range(start, len(self.scopes)):
            if name in self.scopes[i]:
                return i, self.scopes[i][name]
        return None

    def fixtures(self) -> list[Fixture] | None:
        """Every fixture the test takes or gets (autouse), dependencies first; None when one is missing."""
        out: list[Fixture] = []
        params = parametrized(self.fn)
        wanted = [a.arg for a in [*self.fn.args.posonlyargs, *self.fn.args.args, *self.fn.args.kwonlyargs]]
        wanted = [w for w in wanted[(1 if self.cls else 0):] if w not in params]
        autouse = [f.name for s in self.scopes for f in s.values() if f.autouse]

        def visit(name: str, start: int) -> bool:
            hit = self.lookup(name, start)
            if hit is None:
                return name in BUILTIN_FIXTURES
            i, fx = hit
            if fx in out:
                return True
            for r in fx.requests:
                if not visit(r, i + 1 if r == name else 0):
                    return False
            out.append(fx)
            return True

        return out if all(visit(n, 0) for n in dict.fromkeys([*autouse, *wanted])) else None


def collect_tests(index: Index, mod: Module, conftests: list[dict[str, Fixture]]) -> Iterator[PytestItem]:
    def fixtures_of(body: list[ast.stmt], m: Module, cls: str | None) -> dict[str, Fixture]:
        out = {}
        for s in body:
            if isinstance(s, FnNode) and (info := fixture_info(s)) is not None:
                out[info[0]] = Fixture(info[0], s, m, cls, info[1])
        return out

    module_scope = fixtures_of(mod.tree.body, mod, None)
    for s in mod.tree.body:
        if isinstance(s, FnNode) and s.name.startswith("test") and fixture_info(s) is None:
            yield PytestItem(mod, s, None, [module_scope, *conftests], [])
        elif isinstance(s, ast.ClassDef) and s.name.startswith("Test"):
            mro = [index.top[k] for k in index.mro((mod.name, s.name))]
            scopes = [fixtures_of(c.body, m, c.name) for c, m in mro]  # type: ignore[attr-defined]
            for m in s.body:
                if isinstance(m, FnNode) and m.name.startswith("test") and fixture_info(m) is None:
                    yield PytestItem(mod, m, s, [*scopes, module_scope, *conftests], mro)  # type: ignore[arg-type]
