"""What a reviewer of a commit needs to know that the diff alone does not show, each fact checked
against the repository at that commit (`git grep` over its tree, file:line):

- a public name removed or renamed, and where the tree still refers to it;
- a signature change, and the call sites that pass arguments;
- an exception raised or caught that was not before (or no longer), and who catches it;
- a new warning, and the calls that will see it; a class attribute or constant's new value and its readers;
- a test removed, skipped or un-skipped;
- exception chaining added (`raise X from e` / `from None`): what a traceback now shows;
- a public function's returned value changed, and the callers that use the result;
- a parameter's default changed, and the calls that rely on the default;
- an exception already raised, now raised in a new `if` case, and who catches it;
- a parameter now tested against None, and the calls that pass None for it;
- a new public function, method or class, and the test lines that exercise it (or that none do);
- a new test, and the code it exercises (defined where, changed in this commit or not);
- a module deleted, a name no longer (or newly) re-exported by a package `__init__`, a module
  `__getattr__` deprecation added or removed: who imports or reads the name;
- the minimum Python raised in packaging metadata, and lines still naming a dropped version;
- behaviour changed in a public function that no test file mentions (dropped when a more specific
  finding names the same function; findings that speak to the message's stated purpose go first).

A rule can derive each of these correctly; a commit with none of them gets no review.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import git

from services.harvester.generators.git_diffs_code import Module, module, trivial_kind
from services.harvester.gitlog import FileDiff

MAX_REFS = 4
_METADATA = ("pyproject.toml", "setup.cfg", "setup.py")
_CHANGELOG = re.compile(r"^(?:change(?:s|log)|history|news|release[-_ ]?notes)\b", re.IGNORECASE)


def is_changelog(path: str) -> bool:
    return bool(_CHANGELOG.match(PurePosixPath(path).name))


def is_test_path(path: str) -> bool:
    p = PurePosixPath(path)
    return "tests" in p.parts or "test" in p.parts or p.name.startswith("test_") or p.stem.endswith("_test")


@dataclass(frozen=True)
class Ref:
    path: str
    line: int
    text: str

    def __str__(self) -> str:
        text = self.text.strip()
        text = text if len(text) <= 70 else text[:69] + "…"
        return f"`{self.path}:{self.line}` (`{text}`)" if "`" not in text else f"`{self.path}:{self.line}`"


class Tree:
    """One commit's files and a grep over its tree."""

    def __init__(self, repo: git.Repo, sha: str) -> None:
        self.repo, self.sha = repo, sha
        self.commit = repo.commit(sha)
        self.cited: list[Ref] = []  # every line a finding names: the review prompt shows them
        self.deleted_reported = False  # a commit's deleted modules are reported in its first review only
        self.deleted_named: list[str] = []  # deleted files a finding names: the review prompt lists them
        self._changes: dict[str, str] | None = None

    def changes(self) -> dict[str, str]:
        """Every path the commit changes -> git's change type (A, D, M, R...); a review group may
        hold only some of them, and deleted files never reach a group."""
        if self._changes is None:
            try:
                self._changes = {} if not self.commit.parents else {
                    d.b_path or d.a_path: d.change_type for d in self.commit.parents[0].diff(self.commit)}
            except (git.GitCommandError, ValueError):
                self._changes = {}  # a shallow clone's boundary commit: its parent is not in the clone
        return self._changes

    def cite(self, refs: list[Ref]) -> str:
        shown = refs[:MAX_REFS]
        self.cited += [r for r in shown if r not in self.cited]
        more = f" and {len(refs) - MAX_REFS} more" if len(refs) > MAX_REFS else ""
        return ", ".join(str(r) for r in shown) + more

    def read(self, path: str, parent: bool = False) -> str | None:
        c = self.commit.parents[0] if parent else self.commit
        if parent and not self.commit.parents:
            return None
        try:
            return (c.tree / path).data_stream.read().decode("utf-8")
        except (KeyError, UnicodeDecodeError):
            return None

    def grep(self, pattern: str, keep: Callable[[Ref], bool] = lambda r: True,
             globs: tuple[str, ...] = ("*.py", "*.rst", "*.md")) -> list[Ref]:
        pattern = pattern.replace("(?:", "(")  # git grep -E is POSIX ERE (with \b \s \w): no (?:
        try:
            out = self.repo.git.grep("-n", "-I", "-E", "-e", pattern, self.sha, "--", *globs)
        except git.GitCommandError:
            return []  # exit 1: no match
        refs = []
        for ln in out.splitlines():
            parts = ln.split(":", 3)
            if len(parts) == 4 and parts[2].isdigit() and not is_changelog(parts[1]):
                r = Ref(parts[1], int(parts[2]), parts[3])
                if keep(r):
                    refs.append(r)
        return refs


def _short(q: str) -> str:
    return q.rsplit(".", 1)[-1]


def _sig(params: list[tuple[str, str | None]]) -> str:
    return ", ".join(n if d is None else f"{n}={d}" for n, d in params)


def _removed(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    out = []
    gone = [q for q in old.names if q not in new.names]
    added = [q for q in new.names if q not in old.names]
    for q in gone:
        kind = old.names[q]
        name = _short(q)
        if "." in q and q.rsplit(".", 1)[0] in gone:
            continue  # a member of a removed class: the class's own finding covers it
        renamed = ""
        if kind in ("function", "method") and q in old.funcs:
            prefix = q[: -len(name)]
            twins = [a for a in added if a.startswith(prefix) and "." not in a[len(prefix):] and a in new.funcs
                     and new.funcs[a].dump == old.funcs[q].dump.replace(f"name='{name}'", f"name='{_short(a)}'", 1)]
            if len(twins) == 1:
                renamed = f" (renamed to `{twins[0]}`)"
        # an attribute or method is found as `.name`; a module-level name as the whole word
        pattern = rf"\.{name}\b" if kind in ("attribute", "method") else rf"\b{name}\b"
        define = re.compile(rf"\s*(?:async\s+)?(?:def|class)\s+{name}\b")
        refs = tree.grep(pattern, lambda r, define=define: not define.match(r.text))
        own: set[str] = set()
        if kind in ("attribute", "method"):  # a file that defines its own `name` uses that one, not this
            own = {r.path for r in tree.grep(rf"self\.{name}\s*=[^=]|def\s+{name}\(")} & {r.path for r in refs}
            refs = [r for r in refs if r.path not in own]
        what = f"{kind} `{q}`{renamed} is removed from `{path}`"
        if refs:
            on = "(not necessarily on this class) " if kind in ("attribute", "method") else ""
            out.append(f"The {what}, but the tree at this commit still uses the name `{name}` {on}at "
                       f"{tree.cite(refs)}.")
        elif own:
            files = ", ".join(f"`{p}`" for p in sorted(own)[:MAX_REFS])
            out.append(f"The {what}; `.{name}` appears in the tree at this commit only in files that set or "
                       f"define their own `{name}` ({files}).")
        else:
            out.append(f"The {what}; nothing else in the tree at this commit refers to `{name}`, so only code "
                       "outside the repository can break.")
    return out


def _signatures(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None or [n for n, _ in o.params] == [n for n, _ in f.params]:
            continue  # the same parameters (a changed default is the defaults finding's)
        name = _short(q)
        if name.startswith("_") and name != "__init__" or any(p.startswith("_") for p in q.split(".")[:-1]):
            continue
        callee = q.split(".")[-2] if name == "__init__" and "." in q else name
        # a method name defined in several classes (`loads`) cannot be told apart at a call site
        if name != "__init__" and "." in q and len(tree.grep(rf"^\s*(?:async\s+)?def\s+{name}\(")) > 1:
            continue
        old_names = {n for n, _ in o.params}
        dropped = [n for n in old_names - {n for n, _ in f.params} if n.isidentifier() and n not in ("self", "cls")]
        refs = tree.grep(rf"\b{callee}\([^)]", lambda r: not re.match(r"\s*(?:async\s+)?(?:def|class)\s", r.text))
        line = f"`{q}` changes its signature from `({_sig(o.params)})` to `({_sig(f.params)})`"
        if dropped:
            stale = [r for r in refs if any(re.search(rf"\b{d}\s*=", r.text) for d in dropped)]
            gone = ", ".join(f"`{d}`" for d in sorted(dropped))
            line += f"; the parameter{'s' if len(dropped) > 1 else ''} {gone} no longer exist"
            if stale:
                them = "them" if len(dropped) > 1 else "it"
                line += f", yet these calls still pass {them} by keyword: {tree.cite(stale)}"
                out.append(line + ".")
                continue
        if refs:
            line += f". Calls that pass arguments, to check against it: {tree.cite(refs)}"
        else:
            line += f". No call of `{callee}(...)` with arguments is in the tree at this commit"
        out.append(line + ".")
    return out


def _exceptions(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        before_raises = o.raises if o else set()
        for exc in sorted(f.raises - before_raises):
            if o is None:
                continue  # a new function raising is not a change of behaviour for its callers
            catchers = tree.grep(rf"except\b[^:]*\b{exc}\b|raises\(\s*(?:\w+\.)*{exc}\b")
            where = f"it is caught or expected at {tree.cite(catchers)}" if catchers else \
                f"nothing in the tree at this commit catches or expects `{exc}` by name"
            out.append(f"`{q}` in `{path}` can now raise `{exc}`; {where}.")
        for exc in sorted(before_raises - f.raises) if o else []:
            expect = tree.grep(rf"except\b[^:]*\b{exc}\b|raises\(\s*(?:\w+\.)*{exc}\b")
            where = f"code catching or expecting `{exc}` is at {tree.cite(expect)}: check it does not rely on this " \
                    "function for it" if expect else f"nothing in the tree at this commit catches `{exc}` by name"
            out.append(f"`{q}` in `{path}` no longer raises `{exc}`; {where}.")
        if o is not None:
            for exc in sorted(f.catches - o.catches):
                into = f" and raises `{f.converts[exc]}` in its place" if exc in f.converts else ""
                out.append(f"`{q}` in `{path}` now catches `{exc}`{into}; before, `{exc}` was not caught there.")
            for exc in sorted(o.catches - f.catches):
                out.append(f"`{q}` in `{path}` no longer catches `{exc}`: from there it reaches the caller.")
    return out


def _short_src(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _values(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    """A public class attribute or module constant given a new value, and who reads it."""
    out = []
    for q, value in new.values.items():
        before = old.values.get(q)
        if before is None or before == value or "`" in before + value:
            continue
        name = _short(q)
        pattern = rf"\.{name}\b" if "." in q else rf"\b{name}\b"
        assign = re.compile(rf"\s*{name}\s*(?::[^=]*)?=[^=]")
        reads = tree.grep(pattern, lambda r, assign=assign: not assign.match(r.text) and not is_changelog(r.path))
        line = f"`{q}` in `{path}` changes from `{_short_src(before)}` to `{_short_src(value)}`"
        line += f"; it is read at {tree.cite(reads)}" if reads else \
            f"; nothing else in the tree at this commit reads `{name}`, so the change reaches only code outside it"
        out.append(line + ".")
    return out


def _warnings(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    """A function that now emits a warning, and the calls in the tree that will see it."""
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None or not f.warns - o.warns:
            continue
        name = _short(q)
        callee = q.split(".")[-2] if name == "__init__" and "." in q else name
        if callee.startswith("_"):
            continue
        calls = tree.grep(rf"\b{callee}\(", lambda r: not re.match(r"\s*(?:async\s+)?(?:def|class)\s", r.text))
        warns = ", ".join(f"`{w}`" for w in sorted(f.warns - o.warns))
        where = f"these calls in the tree will see it: {tree.cite(calls)}" if calls else \
            f"no call of `{callee}(...)` is in the tree at this commit"
        out.append(f"`{q}` in `{path}` now emits {warns}; {where}.")
    return out


def _tests(path: str, old: Module, new: Module) -> list[str]:
    out = []
    for q, o in old.funcs.items():
        if not _short(q).startswith("test"):
            continue
        f = new.funcs.get(q)
        if f is None:
            out.append(f"The test `{q}` is removed from `{path}`: what it checked is no longer tested there.")
            continue
        for s in [s for s in f.skips if s not in o.skips]:
            out.append(f"The test `{q}` in `{path}` is now skipped or expected to fail (`{s}`).")
        for s in [s for s in o.skips if s not in f.skips]:
            out.append(f"The test `{q}` in `{path}` no longer has `{s}`: it now runs (and must pass) there too.")
    return out


def _public(q: str) -> bool:
    name = _short(q)
    return not (name.startswith("_") and name != "__init__" or any(p.startswith("_") for p in q.split(".")[:-1]))


def _line(src: str, n: int) -> str:
    lines = src.splitlines()
    return lines[n - 1] if 0 < n <= len(lines) else ""


def _chained_sites(path: str, old: Module, new: Module, src: str) -> list[tuple[bool, str, Ref]]:
    """`raise X from e` / `from None` where the same function raised X unchained before:
    (suppressed, "`q` raises `X`", the raise line)."""
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None:
            continue
        before = {(exc, cause) for exc, cause, _ in o.chained}
        for exc, cause, n in f.chained:
            if (exc, cause) not in before and exc in o.raises:
                out.append((cause == "None", f"`{q}` raises `{exc}`", Ref(path, n, _line(src, n))))
    return out


def _chaining(sites: list[tuple[bool, str, Ref]], tree: Tree) -> list[str]:
    """One finding per kind of chaining in the commit (its effect said once), naming every site."""
    out = []
    for suppressed, what, effect in (
            (False, "from the caught exception",
             'the traceback shows the caught error as the direct cause ("The above exception was the direct cause '
             'of the following exception") and the new exception\'s `__cause__` is set to it, instead of an implicit '
             '"During handling of the above exception, another exception occurred" context'),
            (True, "`from None`",
             "the traceback no longer shows the exception that was being handled: `__suppress_context__` is set, "
             "so the caught error is hidden from users")):
        mine = [(w, r) for s_, w, r in sites if s_ is suppressed]
        if not mine:
            continue
        raised = list(dict.fromkeys(w for w, _ in mine))
        named = ", ".join(raised[:MAX_REFS]) + (f" and {len(raised) - MAX_REFS} more" if len(raised) > MAX_REFS else "")
        out.append(f"{named} {what} now ({tree.cite([r for _, r in mine])}): {effect}.")
    return out


def _users(name: str, tree: Tree) -> list[Ref]:
    """Lines that call `name(...)` and use what it returns (not a bare call statement, not a def)."""
    bare = re.compile(rf"\s*(?:await\s+)?(?:[\w.]+\.)?{name}\(")
    return tree.grep(rf"\b{name}\(", lambda r: not re.match(r"\s*(?:async\s+)?(?:def|class)\s", r.text)
                     and not bare.match(r.text))


def _plain(expr: str) -> str:
    """`super(Cls, self)` and `super()` are the same call (a Python 2 spelling, not a change)."""
    return re.sub(r"\bsuper\(\w+, (?:self|cls)\)", "super()", expr)


def _returns(path: str, old: Module, new: Module, tree: Tree, src: str) -> list[str]:
    """A public function whose returned expressions changed, and the callers that use the result."""
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None or not _public(q) or _short(q) == "__init__" or not o.returns or not f.returns:
            continue
        was, now = [_plain(e) for e, _ in o.returns], [_plain(e) for e, _ in f.returns]
        if set(was) == set(now):
            continue
        name = _short(q)
        changed = [(e, n) for e, n in f.returns if _plain(e) not in was]
        if not changed or len(was) > 3 or "`" in "".join(was + now):
            continue
        at = tree.cite([Ref(path, n, _line(src, n)) for _, n in changed])
        old_s = " / ".join(f"`{_short_src(e)}`" for e in dict.fromkeys(e for e in was if e not in now)) or "(as well)"
        users = [r for r in _users(name, tree) if not (r.path == path and any(r.line == n for _, n in changed))]
        several = "." in q and len(tree.grep(rf"^\s*(?:async\s+)?def\s+{name}\(")) > 1
        line = f"`{q}` now returns {' / '.join(f'`{_short_src(e)}`' for e, _ in changed)} at {at}"
        line += f" where it returned {old_s}" if old_s != "(as well)" else ""
        if users:
            on = " (a method of that name, not necessarily this class's)" if several else ""
            line += f"; callers that use the result{on}, to check against the new value: {tree.cite(users)}"
        else:
            line += f"; no caller in the tree at this commit uses what `{name}(...)` returns, so only code outside " \
                    "the repository sees the new value"
        out.append(line + ".")
    return out


def _defaults(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    """A parameter whose default value changed: calls that do not pass it by keyword get the new one."""
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None or not _public(q):
            continue
        before = dict(o.params)
        for p, d in f.params:
            if p not in before or before[p] is None or d is None or before[p] == d or not p.isidentifier():
                continue
            name = _short(q)
            callee = q.split(".")[-2] if name == "__init__" and "." in q else name
            calls = tree.grep(rf"\b{callee}\(", lambda r: not re.match(r"\s*(?:async\s+)?(?:def|class)\s", r.text))
            relying = [r for r in calls if not re.search(rf"\b{p}\s*=", r.text)]
            line = f"The default of `{p}` in `{q}` (`{path}`) changes from `{_short_src(before[p])}` to " \
                   f"`{_short_src(d)}`"
            if relying:
                line += f"; calls that do not pass `{p}=` (unless they pass it by position) now get the new " \
                        f"default: {tree.cite(relying)}"
            else:
                line += f"; every call of `{callee}(...)` in the tree at this commit passes `{p}=` or there is " \
                        "none, so only code outside the repository gets the new default"
            out.append(line + ".")
    return out


def _raise_cases(path: str, old: Module, new: Module, tree: Tree, src: str) -> list[str]:
    """An exception the function already raised, now raised in a new case (a new guarding `if`)."""
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None or not _public(q):
            continue
        before = {(exc, cond) for exc, cond, _ in o.raise_sites}
        for exc, cond, n in f.raise_sites:
            if exc not in o.raises or (exc, cond) in before or not cond or "`" in cond or cond.startswith("except"):
                continue  # a new type, a converted exception: their own findings; unguarded: no case to name
            catchers = tree.grep(rf"except\b[^:]*\b{exc}\b|raises\(\s*(?:\w+\.)*{exc}\b")
            where = f"code that catches or expects `{exc}` now also sees this case: {tree.cite(catchers)}" \
                if catchers else f"nothing in the tree at this commit catches or expects `{exc}` by name"
            out.append(f"`{q}` in `{path}` raises `{exc}` in a new case, when `{_short_src(cond)}` "
                       f"({tree.cite([Ref(path, n, _line(src, n))])}); {where}.")
    return out


def _reexports(path: str, old: Module, new: Module, tree: Tree, src: str) -> list[str]:
    """A package `__init__` that stops (or starts) re-exporting a name, and who imports it from there."""
    p = PurePosixPath(path)
    if p.name != "__init__.py" or not p.parent.name.isidentifier():
        return []
    pkg = p.parent.name
    out = []
    served = "__getattr__" in new.funcs  # a module `__getattr__` may still serve a name no longer imported
    unused = []
    for name in [n for n in old.imports if n not in new.imports and n not in new.names and not served]:
        users = tree.grep(rf"from\s+[[:alnum:]_.]*\b{pkg}\s+import\b.*\b{name}\b|\b{pkg}\.{name}\b",
                          lambda r: r.path != path)
        if users:
            out.append(f"`{name}` is no longer imported into `{path}`, so `from {pkg} import {name}` fails; the tree "
                       f"at this commit still does that at {tree.cite(users)}.")
        else:
            unused.append(name)
    if unused:
        names = ", ".join(f"`{n}`" for n in unused)
        out.append(f"{names} {'is' if len(unused) == 1 else 'are'} no longer imported into `{path}`, so "
                   f"`from {pkg} import {unused[0]}`{' (and the others)' if len(unused) > 1 else ''} fails; nothing "
                   f"in the tree at this commit imports {'it' if len(unused) == 1 else 'them'} from `{pkg}`.")
    for name in [n for n in new.imports if n not in old.imports and n not in old.names]:
        n = new.imports[name]
        users = tree.grep(rf"from\s+[[:alnum:]_.]*\b{pkg}\s+import\b.*\b{name}\b|\b{pkg}\.{name}\b",
                          lambda r: r.path != path)
        line = f"`{name}` is now importable from the package `{pkg}` ({tree.cite([Ref(path, n, _line(src, n))])})"
        line += f"; these lines already import or use it from there: {tree.cite(users)}" if users else \
            f"; nothing in the tree at this commit imports it from `{pkg}` yet"
        out.append(line + ".")
    return out


def _accepts_none(path: str, old: Module, new: Module, tree: Tree, src: str) -> list[str]:
    """A parameter the function now tests against None (it now accepts None to mean "the default"),
    and the calls in the tree that pass None for it."""
    out = []
    for q, f in new.funcs.items():
        o = old.funcs.get(q)
        if o is None or not _public(q):
            continue
        before = {p for p, _ in o.none_checks}
        for p in dict.fromkeys(p for p, _ in f.none_checks if p not in before):
            n = next(n for x, n in f.none_checks if x == p)
            name = _short(q)
            callee = q.split(".")[-2] if name == "__init__" and "." in q else name
            calls = tree.grep(rf"\b{callee}\(.*\b{p}\s*=\s*None\b",
                              lambda r: not re.match(r"\s*(?:async\s+)?(?:def|class)\s", r.text))
            line = f"`{q}` in `{path}` now handles `{p}` being None ({tree.cite([Ref(path, n, _line(src, n))])})"
            line += f"; calls that pass `{p}=None`: {tree.cite(calls)}" if calls else \
                f"; no call in the tree at this commit passes `{p}=None` to `{callee}(...)` by keyword"
            out.append(line + ".")
    return out


def _attr_warnings(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    """A module `__getattr__` that now warns when a module attribute is read (or no longer serves
    one), and who reads it."""
    out = []
    f, o = new.funcs.get("__getattr__"), old.funcs.get("__getattr__")
    for attr in o.attr_warns if o else []:
        if f and attr in f.attr_warns or attr in new.names or attr in new.imports:
            continue
        reads = tree.grep(rf"\.{attr}\b|import\b.*\b{attr}\b", lambda r: r.path != path)
        where = f"the tree at this commit still reads it at {tree.cite(reads)}" if reads else \
            f"nothing else in the tree at this commit reads `{attr}`"
        out.append(f"The deprecated `{attr}` of the module `{path}` is removed (its `__getattr__` shim is gone), so "
                   f"reading it raises `AttributeError`; {where}.")
    for attr in f.attr_warns if f else []:
        if o and attr in o.attr_warns:
            continue
        reads = tree.grep(rf"\.{attr}\b|import\b.*\b{attr}\b", lambda r: r.path != path)
        warns = ", ".join(f"`{w}`" for w in sorted(f.warns)) if f else ""
        where = f"these lines in the tree read it and will see the warning: {tree.cite(reads)}" if reads else \
            f"nothing else in the tree at this commit reads `{attr}`"
        out.append(f"Reading `{attr}` from the module `{path}` now goes through `__getattr__` and emits {warns}; "
                   f"{where}.")
    return out


def _new_tests(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    """A new test and the code it exercises: defined where, and whether this commit changes it."""
    out = []
    changes = tree.changes()
    for q, f in new.funcs.items():
        if q in old.funcs or not _short(q).startswith("test"):
            continue
        targets: list[tuple[str, Ref]] = []
        several: list[tuple[str, list[Ref]]] = []
        for name in sorted(f.calls):
            if name.startswith(("assert", "test")) or len(name) < 4:
                continue
            defs = tree.grep(rf"^\s*(?:async\s+)?def\s+{name}\(|^class\s+{name}\b",
                             lambda r: not is_test_path(r.path) and r.path.endswith(".py"))
            if len(defs) == 1:  # a name defined once outside the tests: no guessing which one is meant
                targets.append((name, defs[0]))
            elif 1 < len(defs) <= 3:  # a method several classes define: all of them, said so
                several.append((name, defs))
        if not targets and not several:
            continue
        fresh = [f"`{n}`" for n, r in targets if r.path in changes]
        old_code = [f"`{n}`" for n, r in targets if r.path not in changes]
        at = tree.cite([Ref(path, f.line, _line(tree.read(path) or "", f.line))])
        line = f"The new test `{q}` ({at}) exercises " + ", ".join(
            [f"`{n}` (defined at {tree.cite([r])})" for n, r in targets[:MAX_REFS]]
            + [f"`{n}` (defined {len(rs)} times, at {tree.cite(rs)}; which one runs depends on the object)"
               for n, rs in several[:2]])
        if fresh:
            line += f"; {', '.join(fresh)} {'is' if len(fresh) == 1 else 'are'} in a file this commit changes"
        if old_code:
            line += f"; {', '.join(old_code)} {'is' if len(old_code) == 1 else 'are'} in files this commit does " \
                    "not change, so the test pins down behaviour that already exists"
        out.append(line + ".")
    return out


def _enclosing_test(tree: Tree, ref: Ref) -> str | None:
    src = tree.read(ref.path) or ""
    for ln in reversed(src.splitlines()[: ref.line]):
        if m := re.match(r"\s*(?:async\s+)?def\s+(test\w*)", ln):
            return m.group(1)
    return None


def _new_api(path: str, old: Module, new: Module, tree: Tree, touched: set[str]) -> list[str]:
    """A new public function or class (in a file that existed before), and whether a test line
    exercises it; a test file this commit changes is named as such."""
    out = []
    for q, kind in new.names.items():
        if q in old.names or kind not in ("function", "class", "method") or not _public(q):
            continue
        if "." in q and q.rsplit(".", 1)[0] not in old.names:
            continue  # a method of a new class: the class's own finding covers it
        name = _short(q)
        if len(name) < 4:
            continue
        pattern = rf"\.{name}\b" if "." in q else rf"\b{name}\b"  # a method is used as `.name`
        refs = tree.grep(pattern, lambda r, name=name: is_test_path(r.path)
                         and r.path.endswith(".py")
                         and not re.match(rf"\s*(?:async\s+)?(?:def|class)\s+{name}\b", r.text))
        what = "method" if "." in q and kind == "function" else kind
        if not refs:
            out.append(f"The new {what} `{q}` in `{path}` is not mentioned by any test file in the tree at this "
                       "commit: nothing exercises it.")
            continue
        tests = [t for r in refs[:MAX_REFS] if (t := _enclosing_test(tree, r))]
        fresh = sorted({r.path for r in refs} & touched)
        by = f" (in {', '.join(f'`{t}`' for t in dict.fromkeys(tests))})" if tests else ""
        also = f"; {', '.join(f'`{p}`' for p in fresh)} {'is' if len(fresh) == 1 else 'are'} changed in this " \
               "same commit" if fresh else "; no test file this commit changes mentions it"
        out.append(f"The new {what} `{q}` in `{path}` is exercised by {tree.cite(refs)}{by}{also}.")
    return out


def _deleted_module(path: str, tree: Tree) -> list[str]:
    """A deleted module and the imports of it still in the tree."""
    p = PurePosixPath(path)
    stem = p.parent.name if p.name == "__init__.py" else p.stem
    if not stem.isidentifier() or tree.read(str(p.parent / "__init__.py"), parent=True) is None:
        return []  # not in a package (setup.py, a script): nobody imports it
    w = "[[:alnum:]_.]"  # git grep -E is POSIX: `\w` is not special inside brackets
    refs = tree.grep(rf"^\s*(?:from\s+{w}*\b{stem}\b{w}*\s+import\b|import\s+{w}*\b{stem}\b)|"
                     rf"^\s*from\s+{w}+\s+import\s+.*\b{stem}\b")
    if refs:
        return [f"The module `{path}` is deleted, but the tree at this commit still imports `{stem}` at "
                f"{tree.cite(refs)}."]
    return [f"The module `{path}` is deleted; nothing in the tree at this commit imports `{stem}`, so only code "
            "outside the repository can break."]


_FLOOR = re.compile(r"""^\s*(?:requires-python|python_requires)\s*=\s*["']?\s*>=\s*3\.(\d+)""")
_CHECKS = (  # (where, pattern, group holding the minor version): spots that name a Python version
    (("*.py",), r"sys\.version_info\s*[<>=!]+\s*\(\s*3\s*,\s*([0-9]+)", 1),
    (("*.py", "*.toml", "*.cfg", "*.txt", "*.in"), r"python_(?:full_)?version\s*[<>=!]+\s*[\"']3\.([0-9]+)", 1),
    (("tox.ini", "*.yaml", "*.yml", "*.toml", "noxfile.py"), r"\bpy3\.?([0-9]+)\b|[\"']3\.([0-9]+)[\"']", 0),
)


def _python_floor(files: list[FileDiff], tree: Tree) -> list[str]:
    """The minimum supported Python raised in packaging metadata, and the lines in the tree that
    still name a version below it (a dead version check, a CI job or marker for a dropped one)."""
    out = []
    for f in files:
        minus = [m for h in f.hunks for ln in h.lines if ln.startswith("-") and (m := _FLOOR.match(ln[1:]))]
        plus = [m for h in f.hunks for ln in h.lines if ln.startswith("+") and (m := _FLOOR.match(ln[1:]))]
        if not minus or not plus or int(plus[0].group(1)) <= int(minus[0].group(1)):
            continue
        old, new = int(minus[0].group(1)), int(plus[0].group(1))
        src = tree.read(f.path) or ""
        at = next((i for i, ln in enumerate(src.splitlines(), 1) if _FLOOR.match(ln)), 0)
        floor = tree.cite([Ref(f.path, at, _line(src, at))]) if at else f"`{f.path}`"
        stale: list[Ref] = []
        for globs, pattern, _ in _CHECKS:
            rx = re.compile(pattern)
            for r in tree.grep(pattern, lambda r: not r.path.endswith(".lock"), globs):
                minors = [int(g) for m in rx.finditer(r.text) for g in m.groups() if g]
                if any(m < new for m in minors) and r not in stale and not _FLOOR.match(r.text):
                    stale.append(r)
        line = f"The minimum Python rises from 3.{old} to 3.{new} ({floor})"
        if stale:
            line += f"; these lines still name a version below 3.{new} (a dead version check, a CI job or marker " \
                    f"for a dropped version): {tree.cite(stale)}"
        else:
            line += f"; no version check, CI job or marker in the tree at this commit names a version below 3.{new}"
        out.append(line + ".")
    return out


_CHAINED = ("from the caught exception now", "`from None` now")
_PURPOSE = {  # a word of the message -> the findings that speak to it (matched in the finding's text)
    "chain": _CHAINED, "b904": _CHAINED, "traceback": _CHAINED, "cause": _CHAINED,
    "return": ("now returns",), "datetime": ("now returns",), "aware": ("now returns",),
    "default": ("default of",),
    "python": ("minimum Python",),
    "support": ("minimum Python",),
    "future": ("in a new case",),
    "allow": ("in a new case", "changes its signature"),
    "overflow": ("in a new case", "now catches"), "deprecat": ("now emits",), "warn": ("now emits",),
    "remove": ("is removed", "is deleted"), "drop": ("is removed", "is deleted", "no longer exist", "minimum Python"),
    "rename": ("renamed",), "catch": ("now catches", "no longer catches"), "raise": ("can now raise",),
    "error": ("can now raise", "now catches"), "skip": ("skipped",), "test": ("The test",),
    "add": ("The new ",), "signature": ("changes its signature",), "accept": ("changes its signature",),
}


def rank(found: list[str], message: str) -> list[str]:
    """Findings that speak to the message's stated purpose first; the generic "untested" finding
    last, dropped for a function another finding already names, and dropped altogether when a
    finding speaks to the purpose (a more specific point than "no test mentions it") - except for
    a fix, where "no test mentions it" is the point (a fix without a regression test)."""
    words = re.findall(r"[a-z0-9]+", message.lower())
    marks = {m for key, ms in _PURPOSE.items() if any(w.startswith(key) for w in words) for m in ms}
    untested = [f for f in found if f.startswith("The behaviour of ")]
    specific = [f for f in found if f not in untested]
    on_point = [f for f in specific if any(m in f for m in marks)]
    if on_point:
        untested = []
    elif untested and re.search(r"\b(?:fix|bug)", message.strip().lower().split("\n", 1)[0]):
        return untested + specific  # a fix with no test of what it fixes: that is the point
    named = " ".join(specific)
    untested = [f for f in untested if (m := re.match(r"The behaviour of `([^`]+)`", f)) is None
                or f"`{m.group(1)}`" not in named]
    return on_point + [f for f in specific if f not in on_point] + untested


def _untested(path: str, old: Module, new: Module, tree: Tree) -> list[str]:
    changed = [q for q, f in new.funcs.items() if q in old.funcs and old.funcs[q].dump != f.dump]
    out = []
    for q in changed:
        name = _short(q)
        if name.startswith("_") or any(p.startswith("_") for p in q.split(".")[:-1]):
            continue
        if not tree.grep(rf"\b{name}\b", lambda r: is_test_path(r.path) and r.path.endswith(".py")):
            out.append(f"The behaviour of `{q}` in `{path}` changes, and no test file in the tree at this commit "
                       f"mentions `{name}`.")
    return out


@dataclass
class FileFacts:
    """A Python file's change per its syntax trees: functions added, removed, with new parameters,
    with changed code (not just annotations, comments or docstrings); `trivial` when nothing ran."""

    added: list[str]
    removed: list[str]
    signature: list[str]
    code: list[str]
    trivial: str | None


def findings(files: list[FileDiff], tree: Tree) -> tuple[list[str], dict[str, FileFacts]]:
    """The concrete findings for the commit's Python files, most consequential first, and per file
    what its syntax trees say changed."""
    out: list[str] = []
    changed: dict[str, FileFacts] = {}
    touched = {f.path for f in files} | set(tree.changes())
    chained: list[tuple[bool, str, Ref]] = []
    if not tree.deleted_reported:
        tree.deleted_reported = True
        for p, kind in tree.changes().items():
            if kind == "D" and p.endswith(".py") and not is_test_path(p) and (gone := _deleted_module(p, tree)):
                out += gone
                tree.deleted_named.append(p)
    out += _python_floor([f for f in files if PurePosixPath(f.path).name in _METADATA], tree)
    for f in files:
        if not f.path.endswith(".py") or f.status not in ("modified", "added"):
            continue
        new_src = tree.read(f.path)
        old_src = tree.read(f.path, parent=True) if f.status == "modified" else ""
        if new_src is None or old_src is None:
            continue
        old, new = module(old_src), module(new_src)
        if old is None or new is None:
            continue
        both = [q for q in new.funcs if q in old.funcs]
        changed[f.path] = FileFacts(
            [q for q in new.funcs if q not in old.funcs], [q for q in old.funcs if q not in new.funcs],
            [q for q in both if old.funcs[q].params != new.funcs[q].params],
            [q for q in both if old.funcs[q].dump != new.funcs[q].dump and old.funcs[q].params == new.funcs[q].params],
            trivial_kind(old_src, new_src) if f.status == "modified" else None)
        if is_test_path(f.path):
            out += _tests(f.path, old, new) + _new_tests(f.path, old, new, tree)
            continue
        out += _removed(f.path, old, new, tree) + _signatures(f.path, old, new, tree)
        out += _exceptions(f.path, old, new, tree) + _warnings(f.path, old, new, tree)
        chained += _chained_sites(f.path, old, new, new_src)
        out += _returns(f.path, old, new, tree, new_src)
        out += _raise_cases(f.path, old, new, tree, new_src) + _attr_warnings(f.path, old, new, tree)
        out += _reexports(f.path, old, new, tree, new_src) + _accepts_none(f.path, old, new, tree, new_src)
        out += _defaults(f.path, old, new, tree) + _values(f.path, old, new, tree)
        if f.status == "modified":
            out += _new_api(f.path, old, new, tree, touched)
        out += _untested(f.path, old, new, tree)
    return _chaining(chained, tree) + out, changed
