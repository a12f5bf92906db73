"""What a Python file's change does to behaviour, read from the two versions' syntax trees.

Comments and whitespace never reach the tree; annotations, `typing` imports, `TYPE_CHECKING`
blocks, `@overload` stubs, `cast()` and docstrings are stripped before comparing, so a change that
only touches those is recognised as such (a review of it teaches nothing), and a function whose
stripped tree differs is one whose behaviour really changed.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field

_TYPING_MODULES = {"typing", "typing_extensions", "__future__", "collections.abc", "types"}
_WS = re.compile(r"\s+")


def _is_name(node: ast.expr, name: str) -> bool:
    return (isinstance(node, ast.Name) and node.id == name) or (isinstance(node, ast.Attribute) and node.attr == name)


def _drop_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        body = body[1:]
    return body or [ast.Pass()]


class _Strip(ast.NodeTransformer):
    """Removes what does not run: type annotations and typing-only code (and docstrings if asked)."""

    def __init__(self, docstrings: bool) -> None:
        self.docstrings = docstrings

    def visit_arg(self, node: ast.arg) -> ast.arg:
        node.annotation = None
        return node

    def _func(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> ast.AST | None:
        if any(_is_name(d, "overload") for d in node.decorator_list):
            return None
        node.returns = None
        if self.docstrings:
            node.body = _drop_docstring(node.body)
        self.generic_visit(node)
        return node

    visit_FunctionDef = visit_AsyncFunctionDef = _func

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        if self.docstrings:
            node.body = _drop_docstring(node.body)
        self.generic_visit(node)
        return node

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST:
        if node.value is None:  # a bare declaration still names a field (dataclasses): keep the name
            return ast.Expr(value=node.target)
        return ast.Assign(targets=[node.target], value=self.visit(node.value))

    def visit_If(self, node: ast.If) -> ast.AST | list[ast.stmt] | None:
        if _is_name(node.test, "TYPE_CHECKING"):
            return [self.visit(s) for s in node.orelse] or None
        self.generic_visit(node)
        return node

    def visit_Import(self, node: ast.Import) -> ast.AST | None:
        node.names = [a for a in node.names if a.name not in _TYPING_MODULES]
        return node if node.names else None

    def visit_ImportFrom(self, node: ast.ImportFrom) -> ast.AST | None:
        return None if node.module in _TYPING_MODULES else node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if _is_name(node.func, "cast") and len(node.args) == 2:
            return self.visit(node.args[1])
        self.generic_visit(node)
        return node


def parse(src: str) -> ast.Module | None:
    try:
        return ast.parse(src)
    except (SyntaxError, ValueError):
        return None  # Python 2 or broken code in old history: no tree facts, no guesses


def _stripped(tree: ast.Module, docstrings: bool) -> ast.Module:
    return _Strip(docstrings).visit(copy.deepcopy(tree))


def trivial_kind(old: str, new: str) -> str | None:
    """`whitespace_only`, `comment_only`, `annotation_only`, `docstring_only`, or None when the
    code's behaviour may have changed (or the file does not parse)."""
    if _WS.sub("", old) == _WS.sub("", new):
        return "whitespace_only"
    a, b = parse(old), parse(new)
    if a is None or b is None:
        return None
    if ast.dump(a) == ast.dump(b):
        return "comment_only"
    if ast.dump(_stripped(a, False)) == ast.dump(_stripped(b, False)):
        return "annotation_only"
    if ast.dump(_stripped(a, True)) == ast.dump(_stripped(b, True)):
        return "docstring_only"
    return None


@dataclass
class Func:
    qualname: str
    line: int
    dump: str  # the stripped tree: equal dumps run the same code
    params: list[tuple[str, str | None]]  # (name, default source) in order; "*"/"/" markers kept
    raises: set[str] = field(default_factory=set)
    catches: set[str] = field(default_factory=set)
    skips: list[str] = field(default_factory=list)  # skip/xfail decorators and pytest.skip calls
    warns: set[str] = field(default_factory=set)  # warning categories of warnings.warn(...) calls
    converts: dict[str, str] = field(default_factory=dict)  # caught type -> the exception its handler raises
    returns: list[tuple[str, int]] = field(default_factory=list)  # (returned expression, line)
    chained: list[tuple[str, str, int]] = field(default_factory=list)  # (exception, `from` cause, line)
    raise_sites: list[tuple[str, str, int]] = field(default_factory=list)  # (exception, guarding `if`, line)
    calls: set[str] = field(default_factory=set)  # names this function calls (`f(...)`, `x.f(...)`)
    attr_warns: list[str] = field(default_factory=list)  # a module `__getattr__`: names it warns about
    none_checks: list[tuple[str, int]] = field(default_factory=list)  # (parameter, line) of `p is (not) None`


@dataclass
class Module:
    funcs: dict[str, Func]
    names: dict[str, str]  # public qualname -> kind (function, class, method, attribute)
    values: dict[str, str] = field(default_factory=dict)  # public constant / class attribute -> its source
    imports: dict[str, int] = field(default_factory=dict)  # public name bound by a module-level `from x import`


def ref_name(node: ast.AST | None) -> str | None:
    """The name a reference ends in: `X` for `X`, `mod.X` or `X(...)` (a raise, a caught type, a callee)."""
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[tuple[str, str | None]]:
    a = fn.args
    pos = [*a.posonlyargs, *a.args]
    defaults: list[str | None] = [None] * (len(pos) - len(a.defaults)) + [ast.unparse(d) for d in a.defaults]
    out = [(p.arg, d) for p, d in zip(pos, defaults, strict=True)]
    if a.posonlyargs:
        out.insert(len(a.posonlyargs), ("/", None))
    if a.vararg:
        out.append(("*" + a.vararg.arg, None))
    elif a.kwonlyargs:
        out.append(("*", None))
    out += [(k.arg, ast.unparse(d) if d is not None else None)
            for k, d in zip(a.kwonlyargs, a.kw_defaults, strict=True)]
    if a.kwarg:
        out.append(("**" + a.kwarg.arg, None))
    return out


def _raise_sites(body: list[ast.stmt], cond: str) -> list[tuple[str, str, int]]:
    """Each `raise` with the test of the innermost `if` around it (`else` branches negated), or
    `except T` for one in a handler."""
    out = []
    for node in body:
        if isinstance(node, ast.Raise) and (n := ref_name(node.exc)):
            out.append((n, cond, node.lineno))
        elif isinstance(node, ast.If):
            test = ast.unparse(node.test)
            out += _raise_sites(node.body, test) + _raise_sites(node.orelse, f"not ({test})")
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            continue
        else:
            for child in ("body", "orelse", "finalbody"):
                out += _raise_sites(getattr(node, child, []) or [], cond)
            for h in getattr(node, "handlers", []) or []:  # a raise in a handler converts what it caught
                out += _raise_sites(h.body, "except " + (ast.unparse(h.type) if h.type else ""))
    return out


def _func(fn: ast.FunctionDef | ast.AsyncFunctionDef, qualname: str) -> Func:
    f = Func(qualname, fn.lineno, ast.dump(fn), _params(fn))
    for node in ast.walk(fn):
        if isinstance(node, ast.Raise) and (n := ref_name(node.exc)):
            f.raises.add(n)
            if node.cause is not None:
                f.chained.append((n, ast.unparse(node.cause), node.lineno))
        elif isinstance(node, ast.Call) and (callee := ref_name(node.func)) and callee not in ("skip", "warn"):
            f.calls.add(callee)
        elif isinstance(node, ast.Return) and node.value is not None:
            f.returns.append((ast.unparse(node.value), node.lineno))
        elif isinstance(node, ast.ExceptHandler) and node.type is not None:
            types = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            caught = [n for t in types if (n := ref_name(t))]
            f.catches.update(caught)
            raised = next((r for b in node.body for x in ast.walk(b)
                           if isinstance(x, ast.Raise) and (r := ref_name(x.exc))), None)
            f.converts.update({c: raised for c in caught if raised})
        elif isinstance(node, ast.Call) and _is_name(node.func, "skip") and node is not fn:
            f.skips.append(ast.unparse(node))
        elif isinstance(node, ast.Call) and _is_name(node.func, "warn"):
            category = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "category"), None)
            f.warns.add(ref_name(category) or "UserWarning")
    f.raise_sites = _raise_sites(fn.body, "")
    f.none_checks = sorted({(n.left.id, n.lineno) for n in ast.walk(fn) if isinstance(n, ast.Compare)
                            and isinstance(n.left, ast.Name) and n.left.id in {p for p, _ in f.params}
                            and any(isinstance(o, ast.Is | ast.IsNot) for o in n.ops)
                            and any(isinstance(c, ast.Constant) and c.value is None for c in n.comparators)})
    if fn.name == "__getattr__" and f.warns:  # `if name == "x": warnings.warn(...)` deprecates `module.x`
        f.attr_warns = [c.value for n in ast.walk(fn) if isinstance(n, ast.Compare) for c in n.comparators
                        if isinstance(c, ast.Constant) and isinstance(c.value, str) and c.value.isidentifier()]
    f.skips += [ast.unparse(d) for d in fn.decorator_list if re.search(r"\b(?:skip\w*|xfail)\b", ast.unparse(d))]
    return f


def module(src: str) -> Module | None:
    """The functions (with their stripped trees) and public names of a module, or None."""
    tree = parse(src)
    if tree is None:
        return None
    tree = _stripped(tree, True)
    funcs: dict[str, Func] = {}
    names: dict[str, str] = {}
    values: dict[str, str] = {}

    def walk(body: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                q = prefix + node.name
                funcs[q] = _func(node, q)
                if not node.name.startswith("_"):
                    names[q] = "method" if in_class else "function"
                if in_class:  # instance attributes a method sets on self
                    for n in ast.walk(node):
                        if isinstance(n, ast.Attribute) and isinstance(n.ctx, ast.Store) and \
                                _is_name(n.value, "self") and not n.attr.startswith("_"):
                            names.setdefault(prefix + n.attr, "attribute")
            elif isinstance(node, ast.ClassDef):
                if not node.name.startswith("_"):
                    names[prefix + node.name] = "class"
                walk(node.body, prefix + node.name + ".", True)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    if isinstance(t, ast.Name) and not t.id.startswith("_"):
                        if in_class:
                            names[prefix + t.id] = "attribute"
                        if in_class or t.id.isupper():  # a class attribute or a module CONSTANT
                            values[prefix + t.id] = ast.unparse(node.value)

    walk(tree.body, "", False)
    imports = {a.asname or a.name: node.lineno for node in tree.body if isinstance(node, ast.ImportFrom)
               for a in node.names if a.name != "*" and not (a.asname or a.name).startswith("_")}
    return Module(funcs, names, values, imports)
