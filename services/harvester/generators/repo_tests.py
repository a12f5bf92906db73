"""The repository's own tests → "write this pytest test for these functions" (task `write_test`).

Each test function of the repository at HEAD (tracked `test_*.py` / `*_test.py`; module-level
`test*` functions and `test*` methods of `Test*` classes) becomes one example whose answer is the
real, human-written test with its decorators (dedented when it is a method). The prompt shows
what writing it needs and nothing it does not: the project functions it calls, directly or through
its module helpers (the whole def when short, else signature, docstring and the `raise` statements
of the exceptions the test names), resolved through the repo's imports and, for `x.m(...)`,
through the project classes its fixtures or locals build; the import lines of the test module
that bind the names it uses; the module-level helpers and constants it reads; and the source of
every fixture it takes or that applies to it (autouse), found as pytest finds them: its class and
that class's bases, its module, each `conftest.py` above it; pytest's builtin fixtures need none.

Skipped and counted (`repo_tests:<reason>`): a test that calls no project function
(`no_project_call`), is longer than MAX_TEST_LINES (`test_too_long`), takes a fixture whose source
is not in the repo (`fixture_not_found`), reads a name the prompt cannot show (`unresolved_name`)
or a helper too long to show (`helper_too_long`), whose prompt would pass MAX_PROMPT_TOKENS
(`prompt_too_long`), or that pins a literal the core's scrubber would replace (`scrubbed_literal`:
the test would no longer hold).
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import git

from services.harvester.base import Context, Draft, approx_tokens, in_skipped_dir, read_text
from services.harvester.generators.ast_code import FunctionDef, Index, Key, Module, is_test_path, module_name
from services.harvester.generators.pytest_layout import (
    Fixture,
    FnNode,
    PytestItem,
    collect_tests,
    fixture_info,
    parametrized,
    pytest_module,
)
from shared.scrub import scrub

NAME = "repo_tests"
MAX_FILE_BYTES = 400_000
MAX_TEST_LINES = 40  # a longer test is past the answer band and hard to derive from a prompt
MAX_SHOWN = 6  # project functions shown per prompt
SHORT_DEF = 12  # a function under test this short is shown whole; longer: signature and docstring
MAX_DOC_LINES = 8
MAX_HELPER_LINES = 30
MAX_PROMPT_TOKENS = 1800
MAX_RAISE = 200  # a `raise` statement listed under a function shown without its body
_BUILTINS = frozenset(dir(builtins))
_SETUP = ("setup_method", "setUp", "setup", "setup_class", "setUpClass")


def source_of(mod: Module, node: ast.AST) -> str:
    """The node's source lines with its decorators, dedented (a method reads like a function)."""
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])  # type: ignore[attr-defined]
    lines = mod.source.splitlines()[first - 1:node.end_lineno]  # type: ignore[attr-defined]
    return textwrap.dedent("\n".join(lines)).rstrip()


def free_names(node: ast.AST) -> list[str]:
    """Names `node` reads that it does not bind itself (parameters, assignments, nested defs)."""
    bound: set[str] = set()
    loads: list[str] = []
    for n in ast.walk(node):
        if isinstance(n, ast.arg):
            bound.add(n.arg)
        elif isinstance(n, ast.Name):
            (loads.append(n.id) if isinstance(n.ctx, ast.Load) else bound.add(n.id))
        elif isinstance(n, ast.ExceptHandler) and n.name:
            bound.add(n.name)
        elif isinstance(n, FnNode | ast.ClassDef) and n is not node:
            bound.add(n.name)
        elif isinstance(n, ast.Import | ast.ImportFrom):
            bound.update((a.asname or a.name).split(".")[0] for a in n.names)
    return list(dict.fromkeys(x for x in loads if x not in bound))


def bindings(mod: Module) -> dict[str, tuple[str, ast.AST | str]]:
    """What each module-level name is: an import (its line), or a def/class/assignment (its node)."""
    out: dict[str, tuple[str, ast.AST | str]] = {}
    stmts = list(mod.tree.body)
    while stmts:
        s = stmts.pop(0)
        if isinstance(s, ast.If | ast.Try):  # `if TYPE_CHECKING:` / `try: import x` blocks bind too
            stmts[:0] = [*s.body, *getattr(s, "orelse", []), *(x for h in getattr(s, "handlers", []) for x in h.body)]
        elif isinstance(s, ast.Import):
            for a in s.names:
                out[(a.asname or a.name).split(".")[0]] = ("import", ast.unparse(ast.Import(names=[a])))
        elif isinstance(s, ast.ImportFrom):
            for a in s.names:
                out[a.asname or a.name] = ("import", ast.unparse(ast.ImportFrom(module=s.module, names=[a],
                                                                                 level=s.level)))
        elif isinstance(s, FnNode | ast.ClassDef):
            out[s.name] = ("def", s)  # the last def wins: the implementation after its `@overload`s
        elif isinstance(s, ast.Assign | ast.AnnAssign):
            for t in s.targets if isinstance(s, ast.Assign) else [s.target]:
                for n in ast.walk(t):
                    if isinstance(n, ast.Name):
                        out[n.id] = ("def", s)
    return out


class Prompt:
    """What one test's prompt shows, gathered name by name: import lines, helpers, fixtures."""

    def __init__(self, index: Index, binds: dict[str, dict[str, tuple[str, ast.AST | str]]]) -> None:
        self.index, self.binds = index, binds
        self.imports: list[tuple[int, str]] = []  # (position in its module, line): shown in module order
        self.helpers: list[tuple[str, str]] = []  # (where, source)
        self.helper_defs: list[tuple[Module, ast.AST]] = []  # whose project calls the test makes through them
        self.seen: set[tuple[str, str]] = set()

    def need(self, mod: Module, name: str, strict: bool) -> str | None:
        """Make `name` (read in `mod`) visible; the reason it cannot be, or None."""
        if (mod.name, name) in self.seen or name in _BUILTINS:
            return None
        self.seen.add((mod.name, name))
        kind, what = self.binds[mod.name].get(name, ("", ""))
        if kind == "import":
            self.imports.append((list(self.binds[mod.name]).index(name), str(what)))
            return None
        if kind != "def" or isinstance(what, str):
            return "unresolved_name" if strict else None
        if fixture_info(what) is not None:  # a fixture read by name, not requested: pytest would not run it
            return "unresolved_name" if strict else None
        if (what.end_lineno or 0) - what.lineno + 1 > MAX_HELPER_LINES:  # type: ignore[attr-defined]
            return "helper_too_long" if strict else None
        self.helpers.append((f"defined in `{mod.rel}`", source_of(mod, what)))
        self.helper_defs.append((mod, what))
        for n in free_names(what):
            if (why := self.need(mod, n, strict)) is not None:
                return why
        return None


def project_classes(index: Index, mod: Module, nodes: list[ast.AST], project: set[str]) -> list[Key]:
    out: list[Key] = []
    for node in nodes:
        for n in ast.walk(node):
            if isinstance(n, ast.Name | ast.Attribute) and isinstance(n.ctx, ast.Load):
                k = index.resolve(mod, n)
                if k is not None and k[0] in project and index.is_class(k) and k not in out:
                    out.append(k)
    return out


def targets(index: Index, item: PytestItem, fixtures: list[Fixture], project: set[str]) -> list[FunctionDef | Key]:
    """The project functions, methods and classes the test calls, in order of first call. `x.m(...)`
    resolves through the classes `x`'s fixture (or the call that made local `x`) refers to."""
    fx_types: dict[str, list[Key]] = {}
    for fx in fixtures:  # dependencies come first, so a fixture inherits what it requests builds
        own = project_classes(index, fx.mod, [fx.node], project)
        fx_types[fx.name] = own + [k for r in fx.requests for k in fx_types.get(r, []) if k not in own]
    types = dict(fx_types)

    def made_by(call: ast.Call) -> list[Key]:
        """The project classes a call builds: `Cls(...)`, a factory fixture or local `f(...)`,
        `partial(Cls, ...)`."""
        k = index.resolve(item.mod, call.func)
        if k is not None and k[0] in project and index.is_class(k):
            return [k]
        if isinstance(call.func, ast.Name) and call.func.id in types:
            return types[call.func.id]
        if isinstance(call.func, ast.Name) and call.func.id == "partial" and call.args:
            k = index.resolve(item.mod, call.args[0])
            return [k] if k is not None and k[0] in project and index.is_class(k) else []
        return []

    for node in ast.walk(item.fn):  # locals: `x = Cls(...)`, `x = some_factory(...)`
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name) and (made := made_by(node.value)):
            types[node.targets[0].id] = made
    found: list[FunctionDef | Key] = []
    calls = sorted((n for n in ast.walk(item.fn) if isinstance(n, ast.Call)), key=lambda c: (c.lineno, c.col_offset))
    for call in calls:
        k = index.resolve(item.mod, call.func)
        hit: FunctionDef | Key | None = None
        if k is not None and k[0] in project:
            hit = k if index.is_class(k) else index.defs.get((k[0], None, k[1]))
        elif isinstance(call.func, ast.Name) and types.get(call.func.id):
            hit = types[call.func.id][0]  # a factory fixture or local: it calls the class it builds
        elif isinstance(call.func, ast.Attribute):
            recv = call.func.value
            owners = types.get(recv.id, []) if isinstance(recv, ast.Name) else \
                made_by(recv) if isinstance(recv, ast.Call) else []
            for cls in owners:
                if (hit := index.method(cls, call.func.attr)) is not None:
                    break
        if hit is not None and hit not in found:
            found.append(hit)
    return found


def render_target(index: Index, t: FunctionDef | Key, answer: str) -> str:
    if isinstance(t, FunctionDef):
        node, mod = index.nodes[t], index.modules[t.module]
        where = f"# {t.rel}" + (f", a method of class `{t.cls}`" if t.cls else "")
        code = source_of(mod, node)
        if len(code.splitlines()) > SHORT_DEF:
            code = short_def(node, answer)
        return f"{where}\n{code}"
    node, mod = index.top[t]
    bases = ", ".join(ast.unparse(b) for b in node.bases)  # type: ignore[attr-defined]
    lines = [f"# {mod.rel}", f"class {t[1]}" + (f"({bases})" if bases else "") + ":"]
    if doc := ast.get_docstring(node):  # a class's first paragraph says what it is; the rest is manual
        lines.append(textwrap.indent(f'"""{clip(doc)}"""', "    "))
    if (init := index.method(t, "__init__")) is not None:
        inherited = f"  # inherited from `{init.cls}`" if init.cls != t[1] else ""
        lines.append(f"    {signature(index.nodes[init])}:{inherited}")
        lines += [f"        # raises: {r}" for r in raises(index.nodes[init], answer)] + ["        ..."]
    else:  # a dataclass or a pydantic model: its annotated fields are its constructor
        lines += [f"    {ast.unparse(f)}" for f in node.body if isinstance(f, ast.AnnAssign)][:MAX_DOC_LINES]  # type: ignore[attr-defined]
    return "\n".join(lines if len(lines) > 2 else [*lines, "    ..."])


def clip(doc: str) -> str:
    """The docstring's first paragraph (what it does; the rest is the manual), at most MAX_DOC_LINES."""
    lines = doc.strip().split("\n\n", 1)[0].splitlines()
    return "\n".join(lines[:MAX_DOC_LINES]) + ("\n..." if len(lines) > MAX_DOC_LINES else "")


def signature(fn: FnNode) -> str:
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns is not None else ""
    return f"{'async def' if isinstance(fn, ast.AsyncFunctionDef) else 'def'} {fn.name}({ast.unparse(fn.args)}){ret}"


def short_def(fn: FnNode, answer: str) -> str:
    """Signature, docstring and the `raise` statements of a body too long to show: a test that
    checks an error message then finds the message in its prompt."""
    deco = "".join(f"@{ast.unparse(d)}\n" for d in fn.decorator_list)
    doc = ast.get_docstring(fn)
    body = (f'"""{clip(doc)}"""\n' if doc else "") + "".join(f"# raises: {r}\n" for r in raises(fn, answer)) + "..."
    return f"{deco}{signature(fn)}:\n{textwrap.indent(body, '    ')}"


def raises(fn: FnNode, answer: str) -> list[str]:
    """The `raise` statements of `fn` whose exception the test names (`pytest.raises(X)`)."""
    out: list[str] = []
    stack: list[ast.AST] = list(fn.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, FnNode | ast.ClassDef | ast.Lambda):
            continue
        if isinstance(node, ast.Raise) and node.exc is not None and len(text := ast.unparse(node)) <= MAX_RAISE \
                and (exc := node.exc.func if isinstance(node.exc, ast.Call) else node.exc) is not None \
                and re.search(rf"\b{re.escape(ast.unparse(exc))}\b", answer):
            out.append(text)
        stack.extend(ast.iter_child_nodes(node))
    return list(dict.fromkeys(out))[:4]


def draft_for(index: Index, item: PytestItem, binds: dict[str, dict[str, tuple[str, ast.AST | str]]],
              project: set[str]) -> tuple[Draft | None, str | None, set[str]]:
    """The example for one test, or the reason it is skipped; and the repo files it shows."""
    fn, mod = item.fn, item.mod
    answer = source_of(mod, fn)
    if len(answer.splitlines()) > MAX_TEST_LINES:
        return None, "test_too_long", set()
    if set(scrub(answer)[1]) - {"assignment"}:  # a literal the scrubber would replace: the test would break
        return None, "scrubbed_literal", set()
    fixtures = item.fixtures()
    if fixtures is None:
        return None, "fixture_not_found", set()
    shown = Prompt(index, binds)
    for n in free_names(fn):
        if (why := shown.need(mod, n, strict=True)) is not None:
            return None, why, set()
    # `self.x` in a method: a member of the test class (or its repo bases) is shown like a helper
    members = {m.name: (m, cm) for c, cm in reversed(item.mro) for m in c.body  # nearest class wins
               if isinstance(m, FnNode) and fixture_info(m) is None and not m.name.startswith("test")}
    external_base = item.cls is not None and len(item.mro) < 1 + len(item.cls.bases)
    for n in ast.walk(fn):
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self":
            if n.attr in members:
                m, cm = members[n.attr]
                if (m.end_lineno or 0) - m.lineno + 1 > MAX_HELPER_LINES:
                    return None, "helper_too_long", set()
                src = (f"a method of `{m.name}`'s class in `{cm.rel}`", source_of(cm, m))
                if src not in shown.helpers:
                    shown.helpers.append(src)
            elif not external_base:
                return None, "unresolved_name", set()
    for name in _SETUP:  # per-test setup methods run before it: shown
        if name in members and (src := (f"setup in `{members[name][1].rel}`", source_of(members[name][1],
                                                                                         members[name][0]))) \
                not in shown.helpers:
            shown.helpers.append(src)
    for fx in fixtures:
        for n in free_names(fx.node):
            if n != "self":
                shown.need(fx.mod, n, strict=False)
    found = targets(index, item, fixtures, project)
    for hmod, node in shown.helper_defs:  # a test that reaches the project through its own helpers
        for call in (c for c in ast.walk(node) if isinstance(c, ast.Call)):
            k = index.resolve(hmod, call.func)
            hit = None if k is None or k[0] not in project else \
                k if index.is_class(k) else index.defs.get((k[0], None, k[1]))
            if hit is not None and hit not in found:
                found.append(hit)
    if not found:
        return None, "no_project_call", set()
    found = found[:MAX_SHOWN]
    files = {mod.rel, *(fx.mod.rel for fx in fixtures)}
    files |= {t.rel if isinstance(t, FunctionDef) else index.top[t][1].rel for t in found}
    prompt = build_prompt(index, item, fixtures, found, shown)
    if approx_tokens(prompt) > MAX_PROMPT_TOKENS:
        return None, "prompt_too_long", files
    return Draft(generator=NAME, task="write_test", source=mod.rel, path=mod.rel,
                 lines=(fn.lineno, fn.end_lineno or fn.lineno),
                 messages=(("user", prompt), ("assistant", answer))), None, files


def build_prompt(index: Index, item: PytestItem, fixtures: list[Fixture], found: list, shown: Prompt) -> str:
    fn = item.fn
    answer = source_of(item.mod, fn)
    called = [f"`{t.cls + '.' if t.cls else ''}{t.name}`" if isinstance(t, FunctionDef) else f"`{t[1]}`"
              for t in found]
    parts = [f"Write the pytest test `{fn.name}` for this project, exercising {', '.join(called)}."]
    if item.cls is not None:
        bases = ", ".join(ast.unparse(b) for b in item.cls.bases)
        parts.append(f"It belongs in `{item.mod.rel}` as a method of the test class `{item.cls.name}"
                     + (f"({bases})" if bases else "") + "`: write it as a method, with `self` as its first parameter.")
    else:
        parts.append(f"It belongs in `{item.mod.rel}` as a module-level test function.")
    if params := parametrized(fn):
        parts.append("Parametrize it over " + ", ".join(f"`{p}`" for p in params) + ".")
    taken = [a.arg for a in fn.args.args if a.arg not in params and a.arg != "self"]
    if taken:
        parts.append("It takes the fixture(s) " + ", ".join(f"`{t}`" for t in taken) + ".")
    if doc := ast.get_docstring(fn):
        parts.append(f"What it checks: {doc.strip().splitlines()[0]}")
    out = [" ".join(parts), "", "The project code it exercises:",
           "```python\n" + "\n\n".join(render_target(index, t, answer) for t in found) + "\n```"]
    if shown.imports:
        lines = dict.fromkeys(ln for _, ln in sorted(shown.imports))
        out += ["", "The test module's imports it uses:", "```python\n" + "\n".join(lines) + "\n```"]
    if shown.helpers:
        out += ["", "Helpers it uses:", "```python\n" + "\n\n".join(f"# {w}\n{s}" for w, s in shown.helpers) + "\n```"]
    if fixtures:
        def where(fx: Fixture) -> str:
            own = f"class `{fx.cls}` in `{fx.mod.rel}`" if fx.cls else f"`{fx.mod.rel}`"
            return f"# fixture from {own}" + (" (autouse: applies to every test there)" if fx.autouse else "")
        out += ["", "The fixtures available to it:",
                "```python\n" + "\n\n".join(f"{where(fx)}\n{source_of(fx.mod, fx.node)}" for fx in fixtures) + "\n```"]
    return "\n".join(out)


class RepoTests:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        root = ctx.plan.repo
        if root is None:
            return
        g = git.Git(str(root))
        changed: set[str] | None = None
        if ctx.plan.since_commit:
            try:
                out = g.execute(["git", "-c", "core.quotepath=off", "diff", "--name-only", "--no-renames",
                                 ctx.plan.since_commit, "HEAD", "--", "*.py"])
                changed = {ln for ln in str(out).splitlines() if ln}
            except git.GitCommandError:
                changed = None
        files = str(g.execute(["git", "-c", "core.quotepath=off", "ls-files", "--", "*.py"])).splitlines()
        modules: list[Module] = []
        for rel in sorted(f for f in files if not in_skipped_dir(f)):
            path = Path(root) / rel
            if path.is_symlink() or not path.is_file() or (text := read_text(path, ctx, NAME, MAX_FILE_BYTES)) is None:
                continue
            try:
                tree = ast.parse(text)
            except (SyntaxError, ValueError):
                ctx.skips.add(NAME, "unparsable")
                continue
            name = pytest_module(Path(root), rel) if is_test_path(rel) else module_name(Path(rel))
            modules.append(Module(name, rel, tree, text))
        project = {m.name for m in modules if not is_test_path(m.rel)}
        index = Index(modules, {m.name for m in modules})
        binds = {m.name: bindings(m) for m in modules}
        conftest = {m.rel: m for m in modules if m.rel.rsplit("/", 1)[-1] == "conftest.py"}
        mined: set[str] = set()
        seen: set[tuple[tuple[str, str], ...]] = set()
        for mod in modules:
            base = mod.rel.rsplit("/", 1)[-1]
            if not (base.startswith("test_") or base.endswith("_test.py")):
                continue
            dirs = Path(mod.rel).parent.parts
            chain = [conftest[c] for i in range(len(dirs), -1, -1)
                     if (c := "/".join([*dirs[:i], "conftest.py"])) in conftest]
            scopes = [{i[0]: Fixture(i[0], s, c, None, i[1]) for s in c.tree.body
                       if isinstance(s, FnNode) and (i := fixture_info(s)) is not None} for c in chain]
            for item in collect_tests(index, mod, scopes):
                d, why, used = draft_for(index, item, binds, project)
                if changed is not None and not (used | {mod.rel}) & changed:
                    continue  # incremental: only tests whose file or shown code changed
                if d is None:
                    ctx.skips.add(NAME, why or "unknown")
                    continue
                if d.messages in seen:
                    ctx.skips.add(NAME, "duplicate")
                    continue
                seen.add(d.messages)
                mined.add(mod.rel)
                yield d
        ctx.read_paths(NAME, Path(root), None if changed is None else changed | mined, mined)
