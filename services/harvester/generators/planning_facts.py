"""What a commit did inside one definition, in facts read from its AST before and after: the
parameters it gained or lost, a default that changed, an exception it now raises or catches, a
warning it now emits, a new check or return value, the literal a constant now holds; for tests,
which of the series' names they call and what they expect (`pytest.raises(X)`); for docs, the
sections and directives added.

A plan step that only names a definition restates the prompt; these facts are what the step
changes. Each fact carries the identifiers it spells, so the prompt can show every one of them
(an answer never names code its prompt lacks), and an expression is quoted only when every name
in it is a parameter, `self`, a builtin or a name the prompt already shows.
"""

from __future__ import annotations

import ast
import builtins
import keyword
import re
from dataclasses import dataclass, field

from services.harvester.generators.git_diffs_code import ref_name

MAX_EXPR = 48  # a quoted expression longer than this is code to read, not a fact to plan with
MAX_PARAMS = 5  # a signature with more is shown with its first ones and "..."
_BUILTINS = set(dir(builtins)) | {"self", "cls"}
_FUNC = (ast.FunctionDef, ast.AsyncFunctionDef)
_EXPECT = {"raises", "warns", "deprecated_call", "assertRaises", "assertWarns", "assertRaisesRegex"}


@dataclass
class Facts:
    """What changed inside one definition: phrases with their code in backticks, and the names
    (identifiers) those phrases spell, which the prompt must show."""

    phrases: list[str] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    params: list[str] = field(default_factory=list)  # shown as `f(a, b)`: the prompt's entry for it

    def add(self, phrase: str, *names: str) -> None:
        if phrase not in self.phrases:
            self.phrases.append(phrase)
            self.names.update(names)


def nodes(tree: ast.Module) -> dict[str, ast.AST]:
    """Qualified name ("f", "C", "C.m", "C.attr", "CONST") -> its node, as planning_changes names them."""
    out: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, _FUNC):
            out[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            out.update({t: node for t in _targets(node)})
        elif isinstance(node, ast.ClassDef):
            out[node.name] = node
            for b in node.body:
                if isinstance(b, _FUNC):
                    out[f"{node.name}.{b.name}"] = b
                elif isinstance(b, (ast.Assign, ast.AnnAssign)):
                    out.update({f"{node.name}.{t}": b for t in _targets(b)})
    return out


def _targets(node: ast.Assign | ast.AnnAssign) -> list[str]:
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    return [t.id for t in targets if isinstance(t, ast.Name)]


def params(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    a = fn.args
    names = [p.arg for p in (*a.posonlyargs, *a.args)] + ([a.vararg.arg] if a.vararg else []) \
        + [p.arg for p in a.kwonlyargs] + ([a.kwarg.arg] if a.kwarg else [])
    return [n for n in names if n not in ("self", "cls")]


def _defaults(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> dict[str, ast.expr]:
    a = fn.args
    pos = [*a.posonlyargs, *a.args]
    out = {p.arg: d for p, d in zip(pos[len(pos) - len(a.defaults):], a.defaults, strict=True)}
    out.update({p.arg: d for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None})
    return out


def _walk(fn: ast.AST) -> list[ast.AST]:
    """Every node under the definition, nested functions too (a fixture's local factory is its work)."""
    out: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        out.append(n)
        stack.extend(ast.iter_child_nodes(n))
    return out


def raised(fn: ast.AST) -> dict[str, int]:
    """Exception class -> how many `raise` statements raise it (`raise err`, a variable, is no class)."""
    out: dict[str, int] = {}
    for n in _walk(fn):
        if isinstance(n, ast.Raise) and n.exc is not None and (d := ref_name(n.exc)) and d[:1].isupper():
            out[d] = out.get(d, 0) + 1
    return out


def caught(fn: ast.AST) -> dict[str, bool]:
    """Exception name -> whether its handler only re-raises it (`except X: raise`)."""
    out: dict[str, bool] = {}
    for n in _walk(fn):
        if isinstance(n, ast.ExceptHandler) and n.type is not None:
            types = n.type.elts if isinstance(n.type, ast.Tuple) else [n.type]
            reraise = len(n.body) == 1 and isinstance(n.body[0], ast.Raise) and n.body[0].exc is None
            out.update({d: reraise for t in types if (d := ref_name(t))})
    return out


def warned(fn: ast.AST) -> set[str]:
    """The categories `warnings.warn(msg, Category)` is called with."""
    out: set[str] = set()
    for n in _walk(fn):
        if isinstance(n, ast.Call) and ref_name(n.func) == "warn":
            cat = n.args[1] if len(n.args) > 1 else next((k.value for k in n.keywords if k.arg == "category"), None)
            out.add(ref_name(cat) or "UserWarning" if cat is not None else "UserWarning")
    return out


def expects(fn: ast.AST) -> dict[str, set[str]]:
    """What a test expects: `pytest.raises` -> {"BadSignature"}, `pytest.deprecated_call` -> set()."""
    out: dict[str, set[str]] = {}
    for n in _walk(fn):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in _EXPECT:
            owner = n.func.value.id if isinstance(n.func.value, ast.Name) else "self"
            key = f"{owner}.{n.func.attr}"
            out.setdefault(key, set()).update(d for a in n.args[:1] if (d := ref_name(a)) and d[:1].isupper())
    return out


def called(fn: ast.AST) -> set[str]:
    return {d for n in _walk(fn) if isinstance(n, ast.Call) and (d := ref_name(n.func))}


def _checks(fn: ast.AST) -> list[ast.expr]:
    return [n.test for n in _walk(fn) if isinstance(n, (ast.If, ast.While, ast.IfExp))]


def _returns(fn: ast.AST) -> list[ast.expr]:
    return [n.value for n in _walk(fn) if isinstance(n, ast.Return) and n.value is not None]


def quotable(expr: ast.AST, allowed: set[str]) -> str | None:
    """The expression as written when short and every name in it is allowed (a parameter, `self`,
    a builtin, a name the prompt shows): otherwise quoting it would name code the prompt lacks."""
    text = ast.unparse(expr)
    if len(text) > MAX_EXPR or "\n" in text:
        return None
    for n in ast.walk(expr):
        if isinstance(n, ast.keyword):
            return None  # `f(tz=...)`: the keyword is a name the prompt would have to show on its own
        if isinstance(n, ast.Name) and n.id not in allowed | _BUILTINS:
            return None
        if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "self" \
                and n.attr not in allowed:
            return None
    return text


def _literal(expr: ast.AST | None) -> str | None:
    """A short literal value (`3600`, `'sha512'`, `None`): a constant worth stating."""
    if expr is None:
        return None
    try:
        ast.literal_eval(expr)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    text = ast.unparse(expr)
    return text if len(text) <= MAX_EXPR and "\n" not in text else None


def _value(expr: ast.AST | None) -> tuple[str | None, list[str]]:
    """An attribute's value as written when short: a literal (`3600`) or made of dotted names
    (`staticmethod(hashlib.sha1)`), with the names the prompt must then show."""
    if expr is None:
        return None, []
    if (lit := _literal(expr)) is not None:
        return lit, []
    text = ast.unparse(expr)
    if len(text) > MAX_EXPR or "\n" in text or any(isinstance(n, (ast.Lambda, ast.BinOp)) for n in ast.walk(expr)):
        return None, []
    dotted = [ast.unparse(n) for n in ast.walk(expr) if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name)]
    bare = [n.id for n in ast.walk(expr) if isinstance(n, ast.Name) and n.id not in _BUILTINS
            and not any(d.startswith(n.id + ".") for d in dotted)]
    return text, dotted + bare


def _calls(fn: ast.AST, allowed: set[str]) -> dict[str, dict[str, ast.expr]]:
    """`datetime.fromtimestamp` -> its keyword arguments, for each call of a dotted name rooted in
    an allowed name (an import, the module's own definitions): a local's method is no fact."""
    out: dict[str, dict[str, ast.expr]] = {}
    for n in _walk(fn):
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name) \
                and n.func.value.id in allowed:
            out.setdefault(ast.unparse(n.func), {}).update({k.arg: k.value for k in n.keywords if k.arg})
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in allowed:
            out.setdefault(n.func.id, {}).update({k.arg: k.value for k in n.keywords if k.arg})
    return out


def _call_changes(f: Facts, old: ast.AST, new: ast.AST, allowed: set[str]) -> None:
    """One call swapped for another (`datetime.fromtimestamp` instead of `datetime.utcfromtimestamp`),
    or a keyword argument a call now passes (`tzinfo=timezone.utc`)."""
    before, after = _calls(old, allowed), _calls(new, allowed)
    gained, lost = sorted(set(after) - set(before)), sorted(set(before) - set(after))
    if len(gained) == 1 and len(lost) == 1:
        f.add(f"call `{gained[0]}` instead of `{lost[0]}`", gained[0], lost[0])
        before[gained[0]] = before[lost[0]]
    for func, kws in sorted(after.items()):
        for k, v in kws.items():  # `salt=salt` forwards a parameter: only a new value is a fact
            if func in before and k not in before[func] and not isinstance(v, ast.Name) \
                    and (q := quotable(v, allowed)):
                f.add(f"pass `{k}={q}` to `{func}`", f"{func}({k})", *_idents(q))


def _quote(f: Facts, phrase: str, code: str, ps: list[str]) -> None:
    """A quoted expression's names: a parameter is shown in its function's entry (`f(salt)`), any
    other name on its own."""
    names = _idents(code)
    f.add(phrase, *(n for n in names if n not in ps))
    f.params += [n for n in names if n in ps and n not in f.params]


def _last(node: ast.AST) -> str:
    return getattr(node, "name", "")


def _sig(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> list[str]:
    ps = params(fn)
    return ps[:MAX_PARAMS] + (["..."] if len(ps) > MAX_PARAMS else [])


def definition_facts(old: ast.AST | None, new: ast.AST | None, known: set[str], test: bool) -> Facts:
    """What changed in one definition (`old` None: it is new; `new` None: it is gone). `known`:
    names the prompt shows anyway (the series' definitions), which an expression may use."""
    f = Facts()
    if isinstance(new, _FUNC):
        ps = params(new)
        if old is None:
            f.params = _sig(new)
        allowed = known | set(ps)
        if isinstance(old, _FUNC):
            before, after = params(old), ps
            gained = [p for p in after if p not in before]
            lost = [p for p in before if p not in after]
            if gained:
                d_new = _defaults(new)
                shown = [f"`{p}`" + (f" (default `{v}`)" if (v := _literal(d_new.get(p))) is not None else "")
                         for p in gained]
                f.add(f"add the parameter{'s' if len(gained) > 1 else ''} {', '.join(shown)}", *gained)
                f.params += gained
            if lost:
                f.add(f"drop the parameter{'s' if len(lost) > 1 else ''} {_ticks(lost)}", *lost)
                f.params += lost
            d_old, d_new = _defaults(old), _defaults(new)
            for p in after:
                if p in before and p in d_new and ast.dump(d_new[p]) != ast.dump(d_old.get(p, ast.Pass())):
                    now, was = _literal(d_new[p]), _literal(d_old.get(p))
                    if now is not None:
                        f.add(f"`{p}` defaults to `{now}`" + (f" (was `{was}`)" if was is not None else ""), p)
                        f.params.append(p)
        old_fn = old if isinstance(old, _FUNC) else None
        now, was_raised = raised(new), raised(old_fn) if old_fn else {}
        for exc, k in sorted(now.items()):
            if exc not in was_raised:
                f.add(f"raise `{exc}`", exc)
            elif k > was_raised[exc]:
                f.add(f"raise `{exc}` in a new case", exc)  # a new check that fails with the old exception
        for exc in sorted(set(was_raised) - set(now)):
            f.add(f"no longer raise `{exc}`", exc)
        was_caught = caught(old_fn) if old_fn else {}
        for exc, reraise in sorted(caught(new).items()):
            if exc not in was_caught:
                f.add(f"catch `{exc}`" + (" and re-raise it" if reraise else ""), exc)
        for cat in sorted(warned(new) - (warned(old_fn) if old_fn else set())):
            f.add(f"warn with `{cat}`", cat)
        if old_fn is not None:  # a new call to one of the series' names: how the pieces connect
            for name in sorted((called(new) & known) - called(old_fn) - {_last(new)})[:2]:
                f.add(f"call `{name}`", name)
            _call_changes(f, old_fn, new, allowed)
        swapped = any(ph.startswith(("call ", "pass ")) for ph in f.phrases)
        if test:
            was = expects(old_fn) if old_fn else {}
            for how, excs in sorted(expects(new).items()):
                new_excs = excs - was.get(how, set())
                if how not in was or new_excs:
                    shown = sorted(new_excs or excs)
                    f.add(f"expect `{how}({', '.join(shown)})`", how, *shown)
        elif old_fn is not None:
            old_checks = {ast.dump(c) for c in _checks(old_fn)}
            for c in _checks(new):
                if ast.dump(c) not in old_checks and (q := quotable(c, allowed)):
                    _quote(f, f"check `{q}`", q, ps)
                    break  # the first new check: the rest is code to read
            old_ret = {ast.dump(r) for r in _returns(old_fn)}
            rets = [r for r in _returns(new) if ast.dump(r) not in old_ret]
            if len(rets) == 1 and not swapped and (q := quotable(rets[0], allowed)):  # else it repeats the call
                _quote(f, f"return `{q}`", q, ps)
    elif isinstance(new, (ast.Assign, ast.AnnAssign)):
        value, names = _value(new.value)
        was, was_names = _value(old.value) if isinstance(old, (ast.Assign, ast.AnnAssign)) else (None, [])
        if value is not None:
            if was is not None and was != value:
                f.add(f"set to `{value}` (was `{was}`)", *names, *was_names)
            else:
                f.add(f"set to `{value}`", *names)
    elif isinstance(new, ast.ClassDef) and old is None:
        bases = [b for b in (ref_name(x) for x in new.bases) if b and b != "object"]
        if bases:
            f.add(f"a subclass of {_ticks(bases)}", *bases)
    return f


def test_calls(fn: ast.AST, names: set[str]) -> list[str]:
    """Which of the series' names (a definition's last part, a class) a test calls."""
    return sorted(called(fn) & names)


def _ticks(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


_IDENT = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")  # `timezone.utc` is one name to show
_STRING = re.compile(r"'[^']*'|\"[^\"]*\"")


def _idents(code: str) -> list[str]:
    """The names a quoted expression spells that the prompt must show (not `self`, `None`, `is`)."""
    return [w for w in _IDENT.findall(_STRING.sub("", code)) if w.split(".")[0] not in _BUILTINS
            and not keyword.iskeyword(w)]


# --- docs: what a docs diff adds, from its + lines --------------------------------------------

_UNDERLINE = re.compile(r"^([=\-~^\"'*+#`])\1{2,}\s*$")
_MD_HEADING = re.compile(r"^#{1,4}\s+(.+?)\s*#*$")
_DIRECTIVE = re.compile(r"^\s*\.\.\s+(auto(?:class|function|method|exception|data|attribute|module)|deprecated"
                        r"|versionadded|versionchanged)::\s*([\w.]*)")
_NUMBERS = re.compile(r"\d+\.\d+")
_NOTE = {"deprecated": "a deprecation notice", "versionadded": "a note of the version that added it",
         "versionchanged": "a note of what changed and when"}


def docs_facts(added_lines: list[str]) -> Facts:
    """Section titles and directives the docs gained: `.. autoclass:: pkg.mod.C` documents `C`."""
    f = Facts()
    for i, ln in enumerate(added_lines):
        nxt = added_lines[i + 1] if i + 1 < len(added_lines) else ""
        title = ln.strip() if _UNDERLINE.match(nxt) and not _UNDERLINE.match(ln) and len(nxt.strip()) >= len(
            ln.strip()) > 0 else (m.group(1) if (m := _MD_HEADING.match(ln)) else None)
        if title and not _NUMBERS.search(title) and "`" not in title:  # a release heading is not a section
            f.add(f'add the section "{title}"')
        if m := _DIRECTIVE.match(ln):
            kind, target = m.group(1), m.group(2).rsplit(".", 1)[-1]
            if kind in _NOTE:
                f.add(f"add {_NOTE[kind]}")
            elif target:
                f.add(f"document `{target}` ({kind})", target)
    return f
