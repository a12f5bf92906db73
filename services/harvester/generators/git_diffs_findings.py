"""What a reviewer of a commit needs to know that the diff alone does not show, each fact checked
against the repository at that commit (`git grep` over its tree, file:line):

- a public name removed or renamed, and where the tree still refers to it;
- a signature change, and the call sites that pass arguments;
- an exception raised or caught that was not before (or no longer), and who catches it;
- a new warning, and the calls that will see it; a class attribute or constant's new value and its readers;
- a test removed, skipped or un-skipped;
- behaviour changed in a public function that no test file mentions.

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

    def grep(self, pattern: str, keep: Callable[[Ref], bool] = lambda r: True) -> list[Ref]:
        pattern = pattern.replace("(?:", "(")  # git grep -E is POSIX ERE (with \b \s \w): no (?:
        try:
            out = self.repo.git.grep("-n", "-I", "-E", "-e", pattern, self.sha, "--", "*.py", "*.rst", "*.md")
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
        if o is None or [n for n, _ in o.params] == [n for n, _ in f.params] and o.params == f.params:
            continue
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
            out += _tests(f.path, old, new)
            continue
        out += _removed(f.path, old, new, tree) + _signatures(f.path, old, new, tree)
        out += _exceptions(f.path, old, new, tree) + _warnings(f.path, old, new, tree)
        out += _values(f.path, old, new, tree) + _untested(f.path, old, new, tree)
    return out, changed
