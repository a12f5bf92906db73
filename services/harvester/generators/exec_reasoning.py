"""Small pure functions of the repository, run in the sandbox → "what does `f(x)` return, step by step?".

The answer is never guessed: each chosen function is executed on sampled inputs in the
evaluation sandbox (shared/sandbox.py) under a line tracer, and the steps are the lines that
actually ran with the variables each one changed; the final value is what the call returned
(or the exception it raised). A function qualifies only when its AST shows it cannot reach the
outside world: a module-level, undecorated, synchronous def whose required parameters are
annotated with simple types (int, float, bool, str, bytes, `str | bytes`, lists, tuples and dicts
of those), that reads no name but its own parameters and locals, a few pure builtins, and from
its module only stdlib modules that compute and return (PURE_MODULES), constants assigned from
literals or those modules, and helper functions that pass the same test; and has no `global`,
`nonlocal`, `yield`, `import`, attribute assignment or dunder access. The module names it needs
travel with it into the sandbox and into the prompt (the "prelude"), so the answer is derivable
from what the prompt shows. Each function is called on several sampled inputs; inputs that take
the same path through the code as two kept ones are dropped (a third identical trace teaches
nothing new).

Three drafts per traced call: the worked trace as the plain answer (reasoning practice for a base
model without think tags), the same trace as a think draft (core renders it in the family's tags)
and, per function, a pytest test pinning the executed values (test generation for the coder).
Where the sandbox cannot run (no namespaces), nothing is run unconfined: counted and skipped.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import git

from services.harvester.base import Context, Draft, in_skipped_dir, read_text
from shared.sandbox import Limits, SandboxUnavailable, run_python

NAME = "exec_reasoning"
MAX_FILE_BYTES = 400_000
MAX_BODY_LINES = 30
MAX_FUNCTIONS = 120  # per harvest: one sandbox run, seconds, not minutes
CALLS_PER_FUNCTION = 6  # sampled inputs per function; traces that repeat a path are dropped
PER_PATH = 2  # traces kept per distinct path through the function (same lines in the same order)
MAX_STEPS = 24  # a longer trace is not a readable worked example: that input is dropped
MAX_REPR = 80

# Builtins that compute and return, nothing more (no I/O, no reflection, no code execution).
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "len", "list", "map", "max", "min", "ord", "range", "reversed", "round", "set",
    "sorted", "str", "sum", "tuple", "zip", "True", "False", "None", "ValueError", "TypeError",
    "KeyError", "IndexError", "ZeroDivisionError", "bytes", "bytearray", "bin", "hex", "oct", "pow",
    "slice", "repr", "format", "iter", "next", "callable", "issubclass", "Exception", "LookupError",
    "UnicodeDecodeError", "UnicodeEncodeError", "OverflowError", "ArithmeticError",
})
# Stdlib modules whose functions compute and return: a module name the function reads may come
# from one of these (no clock, randomness, environment, file system or network among them).
PURE_MODULES = frozenset({
    "base64", "binascii", "bisect", "collections", "decimal", "difflib", "fractions", "functools", "hashlib",
    "heapq", "hmac", "itertools", "json", "math", "operator", "re", "statistics", "string", "struct",
    "textwrap", "typing", "unicodedata", "zlib",
})
_SIMPLE = {"int", "float", "str", "bool", "bytes", "str | bytes", "bytes | str"}
_LISTS = {"list[int]", "list[str]", "list[float]", "tuple[int, ...]", "tuple[str, ...]", "list[bytes]",
          "dict[str, int]", "dict[str, str]", "list", "dict"}

SAMPLES: dict[str, list[Any]] = {
    "int": [3, 0, 7, 1, 12, -2, 5],
    "float": [2.5, 0.0, 10.0, -1.5],
    "bool": [True, False],
    "str": ["hello world", "a,b,c", "Key = Value", "", "abc", "  padded  "],
    "list[int]": [[3, 1, 2], [5, 0, 5, 8], [], [4]],
    "list[float]": [[1.5, 2.0], [], [0.25, 4.0, 1.0]],
    "list[str]": [["b", "a", "c"], ["x"], [], ["one", "two"]],
    "tuple[int, ...]": [(3, 1, 2), (), (4,)],
    "tuple[str, ...]": [("b", "a"), (), ("x",)],
    "bytes": [b"hello", b"", b"a.b", b"\x00\x01", b"abc=="],
    "str | bytes": ["hello", b"hello", "a.b", b"", "x y"],
    "list[bytes]": [[b"a", b"b"], [], [b"xyz"]],
    "dict[str, int]": [{"a": 1, "b": 2}, {}, {"x": 5}],
    "dict[str, str]": [{"k": "v"}, {}, {"a": "1", "b": "2"}],
    "list": [[3, 1, 2], [], ["a", "b"]],
    "dict": [{"a": 1}, {}, {"b": 2, "c": 3}],
}
SAMPLES["bytes | str"] = SAMPLES["str | bytes"]


@dataclass
class Candidate:
    rel: str
    module: str
    fn: ast.FunctionDef
    code: str  # the def, dedented, as the prompt shows it (line 1 = the `def` line)
    calls: list[tuple[Any, ...]] = field(default_factory=list)
    prelude: str = ""  # the module's imports, constants and helpers the def reads, run before it


# ---------------------------------------------------------------------------- purity


def param_type(ann: ast.expr | None) -> str | None:
    """The sample type of an annotation, or None when it is not a simple type (`X | None` counts as X)."""
    if ann is None:
        return None
    text = ast.unparse(ann).replace("List[", "list[").replace("Tuple[", "tuple[")
    if text.endswith(" | None"):
        text = text[: -len(" | None")]
    elif text.startswith("Optional[") and text.endswith("]"):
        text = text[len("Optional["):-1]
    return text if text in _SIMPLE or text in _LISTS else None


def required(fn: ast.FunctionDef) -> list[ast.arg]:
    """The positional parameters without a default: the ones a call is sampled for."""
    a = fn.args
    return a.args[: len(a.args) - len(a.defaults)]


@dataclass
class ModuleEnv:
    """The module-level names a pure function may read, each with the source that binds it."""

    imports: dict[str, str] = field(default_factory=dict)  # bound name → `import x` line (PURE_MODULES)
    consts: dict[str, ast.Assign] = field(default_factory=dict)  # NAME = literal or pure-module expression
    helpers: dict[str, ast.FunctionDef] = field(default_factory=dict)  # module-level defs

    @classmethod
    def of(cls, tree: ast.Module) -> ModuleEnv:
        env = cls()
        for node in tree.body:
            if isinstance(node, ast.Import):
                for al in node.names:
                    if al.name.split(".")[0] in PURE_MODULES and (al.asname or "." not in al.name):
                        env.imports[al.asname or al.name] = ast.unparse(ast.Import(names=[al]))
            elif isinstance(node, ast.ImportFrom) and not node.level and \
                    (node.module or "").split(".")[0] in PURE_MODULES:
                for al in node.names:
                    if al.name != "*":
                        env.imports[al.asname or al.name] = ast.unparse(
                            ast.ImportFrom(module=node.module, names=[al], level=0))
            elif isinstance(node, ast.FunctionDef) and not node.decorator_list:
                env.helpers[node.name] = node
        for node in tree.body:  # after the imports: a constant may be built from them
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                    and _pure_value(node.value, env):
                env.consts[node.targets[0].id] = node
        return env


def _pure_value(value: ast.expr, env: ModuleEnv) -> bool:
    """A constant's value: a literal, or an expression over pure modules and builtins (`struct.Struct(">Q").pack`)."""
    try:
        ast.literal_eval(value)
        return True
    except (ValueError, SyntaxError, TypeError):
        pass
    for n in ast.walk(value):
        if isinstance(n, ast.Lambda | ast.NamedExpr | ast.Await | ast.Yield | ast.comprehension):
            return False
        if isinstance(n, ast.Attribute) and n.attr.startswith("_"):
            return False
        if isinstance(n, ast.Name) and n.id not in env.imports and n.id not in env.consts \
                and n.id not in PURE_BUILTINS:
            return False
    return True


def _const_needs(name: str, env: ModuleEnv, needs: set[str]) -> None:
    """`name` and the imports and earlier constants its value is built from."""
    if name in needs:
        return
    needs.add(name)
    for n in ast.walk(env.consts[name].value):
        if isinstance(n, ast.Name) and n.id in env.imports:
            needs.add(n.id)
        elif isinstance(n, ast.Name) and n.id in env.consts:
            _const_needs(n.id, env, needs)


def _body_check(fn: ast.FunctionDef, env: ModuleEnv | None, needs: set[str], seen: set[str]) -> str | None:
    """The body half of purity, shared by the traced function and the helpers it calls; the
    module names it reads are added to `needs` (helpers recursively, `seen` breaking cycles)."""
    a = fn.args
    local = {p.arg for p in [*a.posonlyargs, *a.args, *a.kwonlyargs, *filter(None, [a.vararg, a.kwarg])]}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
        elif isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            local.add(node.name)
    # annotations are never evaluated (the sandbox compiles under `from __future__ import annotations`)
    annotations = {id(n) for x in [fn.returns, *(p.annotation for p in [*a.posonlyargs, *a.args, *a.kwonlyargs])]
                   if x is not None for n in ast.walk(x)}
    for node in ast.walk(fn):
        if id(node) in annotations:
            continue
        if node is not fn and isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            return "nested_scope"
        if isinstance(node, ast.Global | ast.Nonlocal | ast.Yield | ast.YieldFrom | ast.Await | ast.Import
                      | ast.ImportFrom | ast.With | ast.AsyncWith | ast.AsyncFor | ast.Delete):
            return "side_effects"
        if isinstance(node, ast.Attribute) and (isinstance(node.ctx, ast.Store | ast.Del)
                                                or node.attr.startswith("_")):
            return "side_effects"
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in local \
                and node.id not in PURE_BUILTINS:
            if env is None:
                return "reads_globals"
            if node.id in env.imports:
                needs.add(node.id)
            elif node.id in env.consts:
                _const_needs(node.id, env, needs)
            elif node.id in env.helpers and node.id != fn.name:
                if node.id not in seen:
                    seen.add(node.id)
                    needs.add(node.id)
                    if _body_check(env.helpers[node.id], env, needs, seen) is not None:
                        return "reads_globals"  # a helper that is not pure itself
            else:
                return "reads_globals"
    return None


def is_pure(fn: ast.FunctionDef, env: ModuleEnv | None = None, needs: set[str] | None = None) -> str | None:
    """None when `fn` provably touches nothing outside its arguments (and, given its module's
    `env`, the pure module names it reads, collected in `needs`); else why not (a skip reason)."""
    if fn.decorator_list:
        return "decorated"
    a = fn.args
    if a.vararg or a.kwarg or a.posonlyargs or any(d is None for d in a.kw_defaults):
        return "signature"
    if not required(fn) or any(param_type(p.annotation) is None for p in required(fn)):
        return "param_types"
    n_lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
    if n_lines > MAX_BODY_LINES:
        return "too_long"
    if (why := _body_check(fn, env, needs if needs is not None else set(), {fn.name})) is not None:
        return why
    if not any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn)):
        return "no_return"
    return None


def prelude(env: ModuleEnv, needs: set[str], source: str) -> str:
    """The module code the function needs, in module order: imports, constants, helpers."""
    parts = [env.imports[n] for n in sorted(needs) if n in env.imports]
    defs = sorted((node for n in needs for node in [env.consts.get(n), env.helpers.get(n)] if node is not None),
                  key=lambda node: node.lineno)
    lines = source.splitlines()
    for node in defs:
        parts.append(("\n\n" if isinstance(node, ast.FunctionDef) else "")
                     + textwrap.dedent("\n".join(lines[node.lineno - 1:node.end_lineno])))
    return "\n".join(parts).strip()


# ---------------------------------------------------------------------------- inputs


def _h(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12], 16)


def sample_calls(fn: ast.FunctionDef, rel: str) -> list[tuple[Any, ...]]:
    """Up to CALLS_PER_FUNCTION argument tuples for the required parameters (defaulted ones keep
    their default): the generic samples plus the constants the body compares against (so branches
    are reached), picked by a hash of the function (reruns agree)."""
    consts = [n.value for n in ast.walk(fn) if isinstance(n, ast.Constant)]
    pools: list[list[Any]] = []
    for p in required(fn):
        kind = param_type(p.annotation) or "int"
        pool = list(SAMPLES[kind])
        if kind in ("str", "str | bytes", "bytes | str"):
            pool = [c for c in consts if isinstance(c, str) and 0 < len(c) <= 24 and "\n" not in c][:3] + pool
        if kind in ("bytes", "str | bytes", "bytes | str"):
            pool = [c for c in consts if isinstance(c, bytes) and 0 < len(c) <= 24][:3] + pool
        elif kind == "int":
            pool = [c for c in consts if type(c) is int and -100 < c < 100][:3] + pool
        pools.append(list({repr(v): v for v in pool}.values()))
    calls: list[tuple[Any, ...]] = []
    seen: set[str] = set()
    for k in range(CALLS_PER_FUNCTION * 3):
        args = tuple(pool[_h(rel, fn.name, str(i), str(k)) % len(pool)] for i, pool in enumerate(pools))
        if repr(args) not in seen:
            seen.add(repr(args))
            calls.append(args)
        if len(calls) == CALLS_PER_FUNCTION:
            break
    return calls


# ---------------------------------------------------------------------------- the sandbox run

# Runs inside the sandbox: defines each function alone in a fresh namespace, calls it under a
# tracer that records the line about to run and the locals it changed, prints one JSON per call.
TRACER = r'''
from __future__ import annotations
import ast, json, signal, sys

class Abort(BaseException):
    pass

def _alarm(signum, frame):
    raise Abort("timeout")

signal.signal(signal.SIGALRM, _alarm)

def short(v):
    r = repr(v)
    return r if len(r) <= MAX_REPR else r[: MAX_REPR - 3] + "..."

def trace(fn, args, subs):
    code, steps, st = fn.__code__, [], {"prev": {}, "line": None, "subs": {}}
    def tracer(frame, event, arg):
        if frame.f_code is not code:
            return None
        loc = {k: short(v) for k, v in frame.f_locals.items()}
        if event == "call":
            st["prev"] = loc
            return tracer
        if event == "exception":
            st["exc_line"] = frame.f_lineno
        if event in ("line", "return", "exception"):
            if st["line"] is not None and event != "exception":
                steps.append([st["line"], {k: v for k, v in loc.items() if st["prev"].get(k) != v}])
                if len(steps) > MAX_STEPS:
                    raise Abort("too_many_steps")
            st["prev"] = loc
            st["line"] = frame.f_lineno if event == "line" else None
            if event == "line" and str(frame.f_lineno) in subs:
                parts = []
                for expr in subs[str(frame.f_lineno)]:
                    try:
                        val = short(eval(expr, frame.f_globals, dict(frame.f_locals)))  # prelude names too
                    except Exception:
                        continue
                    if not val.startswith("<"):  # an iterator or object: its repr says nothing, its address varies
                        parts.append([expr, val])
                st["subs"][frame.f_lineno] = st["subs"].get(frame.f_lineno) or parts
        return tracer
    sys.settrace(tracer)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        value = fn(*args)
        return {"ok": True, "value": short(value), "type": type(value).__name__, "steps": steps, "subs": st["subs"]}
    except Abort as err:
        return {"ok": False, "abort": str(err)}
    except Exception as err:
        kind = type(err)
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
        return {"ok": False, "raised": name, "message": short(str(err)), "steps": steps,
                "subs": st["subs"], "at": st.get("exc_line")}
    finally:
        sys.settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)

for case in json.load(open("cases.json")):
    ns = {"__builtins__": __builtins__}
    try:
        exec(compile(case["prelude"], "prelude.py", "exec"), ns)  # the module names the def reads
        exec(compile(case["code"], "fn.py", "exec"), ns)
        args = [ast.literal_eval(a) for a in case["args"]]  # reprs: bytes, tuples and dicts survive JSON
        out = trace(ns[case["name"]], args, case["subs"])
    except BaseException as err:
        out = {"ok": False, "abort": type(err).__name__}
    out["id"] = case["id"]
    print(json.dumps(out), flush=True)
'''


_BUILTIN_EXCEPTIONS = frozenset(n for n in dir(builtins) if isinstance(getattr(builtins, n), type)
                                and issubclass(getattr(builtins, n), Exception))
_MUTATORS = frozenset({"append", "extend", "insert", "pop", "remove", "clear", "update", "add", "discard",
                       "setdefault", "sort", "reverse", "popitem"})


def subexpressions(c: Candidate) -> dict[str, list[str]]:
    """Per line (of c.code), the inner expressions whose values make a step readable: calls,
    arithmetic, subscripts, comparisons, innermost first. Evaluated in the sandbox just before
    the line runs, so only expressions that cannot mutate anything (no mutating method call, no
    walrus) and read no comprehension variable are listed."""
    out: dict[str, list[str]] = {}
    first = c.fn.lineno
    for stmt in ast.walk(c.fn):
        if isinstance(stmt, ast.Return | ast.Assign | ast.AugAssign):
            root = stmt.value
        elif isinstance(stmt, ast.If | ast.While):
            root = stmt.test
        else:
            continue
        if root is None:
            continue
        found: list[str] = []
        for node in _post_order(root):
            if node is root and not isinstance(stmt, ast.If | ast.While):
                continue  # the whole value is the step's own effect
            if not isinstance(node, ast.Call | ast.BinOp | ast.Subscript | ast.Compare | ast.BoolOp | ast.UnaryOp):
                continue
            if any(isinstance(n, ast.NamedExpr | ast.comprehension | ast.GeneratorExp | ast.ListComp
                              | ast.SetComp | ast.DictComp)
                   or (isinstance(n, ast.Attribute) and n.attr in _MUTATORS) for n in ast.walk(node)):
                continue
            text = ast.unparse(node)
            if text not in found and len(text) <= 60:
                found.append(text)
        if found:
            out[str(stmt.lineno - first + 1)] = found[:6]
    return out


def _post_order(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        yield from _post_order(child)
    yield node


def run_traces(cands: list[Candidate]) -> dict[int, dict[str, Any]]:
    """Every call of every candidate, traced in ONE sandbox run; raises SandboxUnavailable."""
    cases, n = [], 0
    for c in cands:
        for args in c.calls:
            cases.append({"id": n, "name": c.fn.name, "code": c.code, "prelude": c.prelude,
                          "subs": subexpressions(c), "args": [repr(a) for a in args]})
            n += 1
    script = TRACER.replace("MAX_REPR", str(MAX_REPR)).replace("MAX_STEPS", str(MAX_STEPS))
    out: dict[int, dict[str, Any]] = {}
    # The sandbox returns only the tail of a run's output (shared/sandbox.py keeps the last 20 kB),
    # so the cases whose rows were cut off run again, until every case answered or a run adds none.
    pending = cases
    while pending:
        res = run_python({"trace_calls.py": script, "cases.json": json.dumps(pending)}, "trace_calls.py",
                         timeout_s=60, limits=Limits(cpu_s=60, memory_bytes=1024**3))
        for line in res.stdout.splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue  # the first line of a cut-off output
            out[int(row["id"])] = row
        left = [c for c in pending if c["id"] not in out]
        if len(left) == len(pending):
            break
        pending = left
    return out


# ---------------------------------------------------------------------------- the worked answer


_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def _arith_nodes(fn: ast.FunctionDef) -> list[ast.AST]:
    return [n for n in ast.walk(fn) if isinstance(n, ast.BinOp | ast.AugAssign) and isinstance(n.op, _ARITH)
            and not any(isinstance(x, ast.Constant) and isinstance(x.value, str | bytes) for x in ast.walk(n))]


def is_arithmetic(fn: ast.FunctionDef) -> bool:
    """The function computes with numbers (+ - * / // % **), not only compares or indexes."""
    return bool(_arith_nodes(fn))


def arithmetic_lines(fn: ast.FunctionDef) -> set[int]:
    """Lines (1 = the `def` line) holding an arithmetic operator on non-text operands."""
    return {ln - fn.lineno + 1 for n in _arith_nodes(fn) for ln in range(n.lineno, (n.end_lineno or n.lineno) + 1)}


def computed_arithmetically(c: Candidate, row: dict[str, Any]) -> bool:
    """The call returned a number (not a bool) and an arithmetic line actually ran on the way."""
    if not row.get("ok") or row.get("type") not in ("int", "float"):
        return False
    lines = arithmetic_lines(c.fn)
    return any(ln in lines for ln, _ in row.get("steps", []))


def call_text(fn: ast.FunctionDef, args: tuple[Any, ...]) -> str:
    return f"{fn.name}({', '.join(repr(a) for a in args)})"


def _branches(fn: ast.FunctionDef) -> dict[int, tuple[str, int]]:
    """line of an if/while/for → (kind, first line of its body): tells a taken branch from a skipped one."""
    out: dict[int, tuple[str, int]] = {}
    for node in ast.walk(fn):
        if isinstance(node, ast.If | ast.While):
            out[node.lineno] = ("if" if isinstance(node, ast.If) else "while", node.body[0].lineno)
        elif isinstance(node, ast.For):
            out[node.lineno] = ("for", node.body[0].lineno)
    return out


def render_steps(c: Candidate, args: tuple[Any, ...], row: dict[str, Any]) -> list[str]:
    """One sentence per executed line, from the trace: what ran and what it changed."""
    lines = c.code.splitlines()
    first = c.fn.lineno  # the candidate's code starts at its def: trace line 1 = fn.lineno
    branches = {ln - first + 1: (k, b - first + 1) for ln, (k, b) in _branches(c.fn).items()}
    req = required(c.fn)
    defaulted = c.fn.args.args[len(req):]
    start = ", ".join([*(f"{p.arg} = {a!r}" for p, a in zip(req, args, strict=True)),
                       *(f"{p.arg} = {ast.unparse(d)} (its default)" for p, d in zip(defaulted, c.fn.args.defaults,
                                                                                    strict=True)),
                       *(f"{p.arg} = {ast.unparse(d)} (its default)" for p, d in zip(c.fn.args.kwonlyargs,
                                                                                    c.fn.args.kw_defaults, strict=True)
                         if d is not None)])
    out = [f"Start with {start}."]
    steps = row.get("steps", [])
    subs = dict(row.get("subs") or {})
    for i, (ln, changed) in enumerate(steps):
        src = lines[ln - 1].strip() if 0 < ln <= len(lines) else "?"
        nxt = steps[i + 1][0] if i + 1 < len(steps) else None
        effect = ", ".join(f"{k} = {v}" for k, v in changed.items())
        kind, body = branches.get(ln, ("", 0))
        if kind in ("if", "while"):
            verdict = "true" if nxt == body else "false"
            text = f"`{src}` is {verdict}" + (", so the loop ends" if kind == "while" and verdict == "false" else "")
        elif kind == "for":
            text = (f"`{src}` takes the next item: {effect}" if effect
                    else f"`{src}` has no items left, so the loop ends")
        elif src.startswith("return") and nxt is None and row.get("ok"):
            text = f"`{src}` returns {row['value']}"
        else:
            target = src.split("=", 1)[0].strip() if "=" in src and not src.startswith(("if ", "return")) else ""
            if not effect and target.isidentifier():  # an assignment that left the value as it was
                text = f"`{src}` leaves {target} unchanged"
            else:
                text = f"`{src}`" + (f" sets {effect}" if effect else " runs")
        if parts := subs.pop(str(ln), None):  # the line's inner values, innermost first, once
            text = "; ".join(f"`{e}` is {v}" for e, v in parts) + ", so " + text
        out.append(f"{len(out)}. {text}.")
    if not row.get("ok"):
        at = row.get("at")
        if at and (not steps or steps[-1][0] != at) and 0 < at <= len(lines):
            out.append(f"{len(out)}. `{lines[at - 1].strip()}` raises {row['raised']}: {row['message']}.")
        else:
            out.append(f"{len(out)}. That line raises {row['raised']}: {row['message']}.")
    return out


def shown(c: Candidate) -> str:
    """The code the prompt shows: the module names the def reads, then the def itself."""
    return f"{c.prelude}\n\n\n{c.code}" if c.prelude else c.code


def conclusion(c: Candidate, args: tuple[Any, ...], row: dict[str, Any]) -> str:
    call = call_text(c.fn, args)
    if row.get("ok"):
        article = "an" if row["type"][:1] in "aeiou" else "a"
        return f"So `{call}` returns `{row['value']}` ({article} `{row['type']}`)."
    return f"So `{call}` does not return: it raises `{row['raised']}` with the message {row['message']}."


def test_code(c: Candidate, done: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> str | None:
    """A pytest test pinning the executed values (only results whose repr is a literal)."""
    asserts = []
    for args, row in done:
        if not row.get("ok"):
            # a builtin exception the call raised is pinned too (a stdlib module's own error class
            # would need its import, and its name alone says little)
            if row.get("raised") in _BUILTIN_EXCEPTIONS:
                asserts.append(f"    with pytest.raises({row['raised']}):\n        {call_text(c.fn, args)}")
            continue
        try:
            ast.literal_eval(row["value"])
        except (ValueError, SyntaxError):
            continue
        value = row["value"]
        expected = f"pytest.approx({value})" if row["type"] == "float" else value
        asserts.append(f"    assert {call_text(c.fn, args)} == {expected}")
    if len(asserts) < 2:
        return None
    if sum(a.lstrip().startswith("assert") for a in asserts) < 1:
        return None
    head = "import pytest\n\n" if any("pytest." in a for a in asserts) else ""
    return (f"```python\n{head}from {c.module} import {c.fn.name}\n\n\n"
            f"def test_{c.fn.name.lstrip('_')}():\n" + "\n".join(asserts) + "\n```")


# ---------------------------------------------------------------------------- the generator


def python_files(root: Path, since: str | None) -> tuple[list[str], set[str] | None]:
    """Tracked .py files (all, or only those changed since `since`) and the changed set (None: full)."""
    g = git.Git(str(root))
    changed: set[str] | None = None
    if since:
        try:
            out = g.execute(["git", "-c", "core.quotepath=off", "diff", "--name-only", "--no-renames", since, "HEAD",
                             "--", "*.py"])
            changed = {ln for ln in str(out).splitlines() if ln}
        except git.GitCommandError:
            changed = None
    files = str(g.execute(["git", "-c", "core.quotepath=off", "ls-files", "--", "*.py"])).splitlines()
    files = sorted(f for f in files if not in_skipped_dir(f) and (changed is None or f in changed))
    return files, changed


def module_of(rel: str) -> str:
    parts = list(Path(rel).with_suffix("").parts)
    if parts and parts[0] == "src":
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def candidates(root: Path, files: list[str], ctx: Context) -> list[Candidate]:
    found: list[Candidate] = []
    for rel in files:
        path = root / rel
        if path.is_symlink() or not path.is_file():
            continue
        source = read_text(path, ctx, NAME, MAX_FILE_BYTES)
        if source is None:
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError):
            ctx.skips.add(NAME, "unparsable")
            continue
        env = ModuleEnv.of(tree)
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            needs: set[str] = set()
            if (why := is_pure(node, env, needs)) is not None:
                ctx.skips.add(NAME, f"not_pure_{why}")
                continue
            # a def and its body alone, line 1 = the `def` line (no decorators: is_pure refused them)
            code = textwrap.dedent("\n".join(source.splitlines()[node.lineno - 1:node.end_lineno]))
            cand = Candidate(rel, module_of(rel), node, code, prelude=prelude(env, needs, source))
            cand.calls = sample_calls(node, rel)
            found.append(cand)
    if len(found) > MAX_FUNCTIONS:  # a fixed, content-independent sample: reruns pick the same ones
        ctx.skips.add(NAME, "over_limit", len(found) - MAX_FUNCTIONS)
        found = sorted(found, key=lambda c: _h(c.rel, c.fn.name))[:MAX_FUNCTIONS]
        found.sort(key=lambda c: (c.rel, c.fn.lineno))
    return found


class ExecReasoning:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        root = ctx.plan.repo
        if root is None:
            return
        files, changed = python_files(root, ctx.plan.since_commit)
        cands = candidates(root, files, ctx)
        ctx.read_paths(NAME, root, changed, {c.rel for c in cands})
        if not cands:
            return
        try:
            rows = run_traces(cands)
        except SandboxUnavailable:
            ctx.skips.add(NAME, "sandbox_unavailable", len(cands))
            return
        n = 0
        for c in cands:
            done: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
            paths: dict[tuple[Any, ...], int] = {}
            for args in c.calls:
                row = rows.get(n, {"ok": False, "abort": "no_output"})
                n += 1
                if "abort" in row:
                    ctx.skips.add(NAME, str(row["abort"]))
                    continue
                if " at 0x" in json.dumps(row):  # a value whose repr is a memory address: not reproducible
                    ctx.skips.add(NAME, "unstable_repr")
                    continue
                inner = any((row.get("subs") or {}).values())
                if len(row.get("steps", [])) < 2 and not inner:  # one line, no inner value: no reasoning
                    ctx.skips.add(NAME, "trivial_trace")
                    continue
                path = (tuple(ln for ln, _ in row.get("steps", [])), row.get("ok"), row.get("raised"))
                if paths.get(path, 0) >= PER_PATH:  # the same lines in the same order as kept traces
                    ctx.skips.add(NAME, "repeated_path")
                    continue
                paths[path] = paths.get(path, 0) + 1
                done.append((args, row))
            if not done:
                ctx.skips.add(NAME, "no_traced_call")
            yield from self.drafts(c, done)

    def drafts(self, c: Candidate, done: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> Iterator[Draft]:
        where = dict(generator=NAME, source=c.rel, path=c.rel, lines=(c.fn.lineno, c.fn.end_lineno or c.fn.lineno))
        for args, row in done:
            # a number worked out with arithmetic: the hint lets a specialist file it under math
            hint = "arithmetic" if computed_arithmetically(c, row) else None
            prompt = (f"What does `{call_text(c.fn, args)}` return? Work through it step by step.\n\n"
                      f"```python\n{shown(c)}\n```")
            steps = "\n".join(render_steps(c, args, row))
            final = conclusion(c, args, row)
            yield Draft(task="exec_trace", messages=(("user", prompt), ("assistant", f"{steps}\n\n{final}")),
                        expected=str(row["value"]) if row.get("ok") else None, hint=hint, **where)
            yield Draft(task="exec_trace", format="think", thought=steps, hint=hint,
                        messages=(("user", prompt), ("assistant", final)), **where)
        if (test := test_code(c, done)) is not None:
            yield Draft(task="exec_test",
                        messages=(("user", f"Write a pytest test for `{c.fn.name}` in `{c.module}` that pins its "
                                           f"results on a few inputs.\n\n```python\n{shown(c)}\n```"),
                                  ("assistant", test)),
                        **where)
