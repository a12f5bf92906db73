"""What one commit did to the code, read from the AST of each Python file before and after it.

A mature library adds its features to modules that already exist (itsdangerous: 0 new modules in
its last 500 commits), so "which module gained which function" cannot come from file names or
from words in the message. This module compares the top-level functions, classes and their
methods of each changed file at the commit's parent and at the commit: which names appeared,
which disappeared, and which definitions changed (docstrings ignored, so a reworded docstring is
not a change of behaviour). Each file is also sorted into the role it plays in a change: source,
test, docs, changelog or other (configuration, packaging).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import PurePosixPath

import git

from services.harvester.base import in_skipped_dir
from services.harvester.generators.planning_facts import nodes
from services.harvester.gitlog import Commit, FileDiff

_CHANGELOG = re.compile(r"^(?:changes|changelog|history|news|release[-_]?notes)(?:\.\w+)?$", re.IGNORECASE)
_DOC_EXT = (".rst", ".md", ".txt", ".adoc")
_NOT_SOURCE = {"setup.py", "conftest.py", "noxfile.py", "fabfile.py"}


def role(path: str) -> str:
    """source | test | docs | changelog | other: the part a file plays in a change."""
    p = PurePosixPath(path)
    if _CHANGELOG.match(p.name):
        return "changelog"
    if any(part in ("tests", "test", "testing") for part in p.parts[:-1]) or p.name.startswith("test_") \
            or p.stem.endswith("_test") or p.stem in ("tests", "test"):  # a one-file project's `tests.py`
        return "test"
    if p.parts[0] in ("docs", "doc") or p.suffix.lower() in _DOC_EXT:
        return "docs"  # docs/conf.py too: configuring Sphinx is documentation work, not the library
    if p.suffix == ".py" and p.name not in _NOT_SOURCE:
        return "source"
    return "other"


def _unannotated(node: ast.AST) -> ast.AST:
    """The parsed tree without type annotations (in place: each tree is parsed for this alone):
    adding types changes no behaviour, and a typing sweep would otherwise read as a change of
    every function."""
    for n in ast.walk(node):
        if isinstance(n, ast.arg):
            n.annotation = None
        elif isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)):
            n.returns = None
    return node


def _body_dump(node: ast.AST) -> str:
    body = list(getattr(node, "body", []))
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]  # the docstring: rewording it changes no behaviour
    head = ast.dump(node.args) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else ""
    return head + "".join(ast.dump(b) for b in body)


def definitions(source: str) -> dict[str, str] | None:
    """Qualified name ("f", "C", "C.m") -> a dump of its code; None when the text does not parse
    (Python 2 code in an old history): then nothing is claimed about that file."""
    tree = _tree(source)
    return None if tree is None else _definitions(tree)


def _tree(source: str) -> ast.Module | None:
    try:
        return _unannotated(ast.parse(source))  # type: ignore[return-value]
    except (SyntaxError, ValueError):
        return None


def _definitions(tree: ast.Module) -> dict[str, str]:
    out: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            out[node.name] = _body_dump(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            out.update(_assigned(node))  # a module constant: `EPOCH = ...`
        elif isinstance(node, ast.ClassDef):
            methods = [m for m in node.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))]
            out[node.name] = "".join(ast.dump(b) for b in (*node.bases, *node.keywords))
            for b in node.body:  # class attributes: `default_digest_method = ...`
                if isinstance(b, (ast.Assign, ast.AnnAssign)):
                    out.update({f"{node.name}.{k}": v for k, v in _assigned(b).items()})
            for m in methods:
                out[f"{node.name}.{m.name}"] = _body_dump(m)
            for attr in _instance_attributes(methods):  # `self.secret_keys = ...`: API a method adds
                out.setdefault(f"{node.name}.{attr}", "attribute")
    return out


def _assigned(node: ast.Assign | ast.AnnAssign) -> dict[str, str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    value = ast.dump(node.value) if node.value is not None else ""
    return {t.id: value for t in targets if isinstance(t, ast.Name)}


def _instance_attributes(methods: list[ast.FunctionDef | ast.AsyncFunctionDef]) -> list[str]:
    seen: dict[str, None] = {}
    for m in methods:
        for n in ast.walk(m):
            targets = n.targets if isinstance(n, ast.Assign) else [n.target] if isinstance(n, ast.AnnAssign) else []
            for t in targets:
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self":
                    seen.setdefault(t.attr, None)
    return list(seen)


def _code_dump(source: str) -> str | None:
    """The module's code without docstrings and annotations: equal before and after when a commit
    only reworded comments or documentation."""
    try:
        tree = _unannotated(ast.parse(source))
    except (SyntaxError, ValueError):
        return None
    for n in ast.walk(tree):
        body = getattr(n, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            n.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
    return ast.dump(tree)


def public(qualname: str) -> bool:
    """`f`, `C.m` and `C.__init__` are public API; `_f` and `C._m` are not."""
    parts = qualname.split(".")
    return not any(p.startswith("_") for p in parts[:-1]) and (
        not parts[-1].startswith("_") or (len(parts) > 1 and parts[-1].startswith("__") and parts[-1].endswith("__")))


@dataclass
class FileChange:
    path: str
    role: str
    status: str  # added | modified | deleted | renamed (FileDiff.status)
    added: list[str] = field(default_factory=list)  # definitions that appeared, in file order
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    words: set[str] = field(default_factory=set)  # identifiers on the diff's +/- lines
    lines: list[str] = field(default_factory=list)  # the diff's non-blank +/- lines, without the sign
    plus: list[str] = field(default_factory=list)  # its non-blank + lines alone: what a docs step wrote
    before: dict[str, ast.AST] = field(default_factory=dict)  # the touched definitions' nodes, before
    after: dict[str, ast.AST] = field(default_factory=dict)  # ... and after: planning_facts reads them
    defined: set[str] = field(default_factory=set)  # the names the file defines or imports after: what code uses
    fresh: set[str] = field(default_factory=set)  # added names the file never spelled before: what a later diff names
    same_code: bool = False  # only comments, docstrings or annotations changed


@dataclass
class Change:
    commit: Commit
    files: list[FileChange]

    def of(self, *roles: str) -> list[FileChange]:
        return [f for f in self.files if f.role in roles]

    @property
    def api(self) -> list[str]:
        """The public source definitions this commit added, removed or changed."""
        return [q for f in self.of("source") for q in (*f.added, *f.removed, *f.changed) if public(q)]


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class _Parsed:
    text: str
    defs: dict[str, str] | None
    nodes: dict[str, ast.AST] = field(default_factory=dict)
    imported: frozenset[str] = frozenset()  # the module's top-level imports: `datetime`, `timezone`


def _imported(tree: ast.Module) -> frozenset[str]:
    return frozenset((a.asname or a.name).split(".")[0] for n in tree.body
                     if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names)


@lru_cache(maxsize=512)  # a file after one commit is the same blob before the next: parse it once
def _parsed(blob: git.Blob) -> _Parsed:
    text = blob.data_stream.read().decode("utf-8", errors="replace")
    tree = _tree(text)
    if tree is None:
        return _Parsed(text, None)
    return _Parsed(text, _definitions(tree), nodes(tree), _imported(tree))


def _blob(commit: git.Commit, path: str) -> _Parsed | None:
    try:
        return _parsed(commit.tree[path])
    except KeyError:
        return None


def read_change(repo: git.Repo, c: Commit, with_code: bool = True) -> Change:
    """The commit's files with their role and, for Python files, the definitions it touched
    (not read when `with_code` is false: a commit too large to plan needs only its file list)."""
    after = repo.commit(c.sha)
    before = after.parents[0] if after.parents else None
    files: list[FileChange] = []
    for f in c.files:
        if in_skipped_dir(f.path) or f.status in ("binary", "mode"):
            continue
        signed = [ln for h in f.hunks for ln in h.lines if ln[:1] in "+-" and ln[1:].strip()]
        lines = [ln[1:] for ln in signed]
        fc = FileChange(f.path, role(f.path), f.status, words={w for ln in lines for w in _WORD.findall(ln)},
                        lines=lines, plus=[ln[1:] for ln in signed if ln[0] == "+"])
        if with_code and f.path.endswith(".py"):
            _compare(fc, f, before, after)
        files.append(fc)
    return Change(c, files)


def _compare(fc: FileChange, f: FileDiff, before: git.Commit | None, after: git.Commit) -> None:
    empty = _Parsed("", {})
    old_p = _blob(before, f.old_path or f.path) if before is not None and f.status != "added" else empty
    new_p = _blob(after, f.path) if f.status != "deleted" else empty
    old, new = (old_p.defs if old_p else None), (new_p.defs if new_p else None)
    if old is None or new is None or old_p is None or new_p is None:
        return  # one side does not parse: say nothing rather than call every name new
    old_src, new_src = old_p.text, new_p.text
    old_words = set(_WORD.findall(old_src))
    fc.added = [q for q in new if q not in old]
    fc.fresh = {q.rsplit(".", 1)[-1] for q in fc.added} - old_words
    fc.same_code = old == new and _code_dump(old_src) == _code_dump(new_src)
    fc.removed = [q for q in old if q not in new]
    fc.changed = [q for q in new if q in old and new[q] != old[q]]
    touched = {*fc.added, *fc.removed, *fc.changed}
    fc.before = {q: n for q, n in old_p.nodes.items() if q in touched}
    fc.after = {q: n for q, n in new_p.nodes.items() if q in touched}
    fc.defined = {p for q in new_p.nodes for p in q.split(".")} | new_p.imported
