"""Small pure functions of the repository, run in the sandbox → "what does `f(x)` return, step by step?".

The answer is never guessed: each chosen function is executed on sampled inputs in the
evaluation sandbox (shared/sandbox.py) under a line tracer, and the steps are the lines that
actually ran with the variables each one changed; the final value is what the call returned
(or the exception it raised). A function qualifies only when its AST shows it cannot reach the
outside world: a module-level, undecorated, synchronous def whose parameters are annotated with
simple types, that reads no name but its own parameters, its own locals and a few pure builtins,
and has no `global`, `nonlocal`, `yield`, `import`, attribute assignment or dunder access.

Three drafts per traced call: the worked trace as the plain answer (reasoning practice for a base
model without think tags), the same trace as a think draft (core renders it in the family's tags)
and, per function, a pytest test pinning the executed values (test generation for the coder).
Where the sandbox cannot run (no namespaces), nothing is run unconfined: counted and skipped.
"""

from __future__ import annotations

import ast
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
CALLS_PER_FUNCTION = 3
MAX_STEPS = 24  # a longer trace is not a readable worked example: that input is dropped
MAX_REPR = 80

# Builtins that compute and return, nothing more (no I/O, no reflection, no code execution).
PURE_BUILTINS = frozenset({
    "abs", "all", "any", "bool", "chr", "dict", "divmod", "enumerate", "filter", "float", "frozenset",
    "int", "isinstance", "len", "list", "map", "max", "min", "ord", "range", "reversed", "round", "set",
    "sorted", "str", "sum", "tuple", "zip", "True", "False", "None", "ValueError", "TypeError",
    "KeyError", "IndexError", "ZeroDivisionError",
})
_SIMPLE = {"int", "float", "str", "bool"}
_LISTS = {"list[int]", "list[str]", "list[float]", "tuple[int, ...]", "tuple[str, ...]"}

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
}


@dataclass
class Candidate:
    rel: str
    module: str
    fn: ast.FunctionDef
    code: str  # the def, dedented, as the prompt shows it (line 1 = the `def` line)
    calls: list[tuple[Any, ...]] = field(default_factory=list)


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


def is_pure(fn: ast.FunctionDef) -> str | None:
    """None when `fn` provably touches nothing outside its arguments; else why not (a skip reason)."""
    if fn.decorator_list:
        return "decorated"
    a = fn.args
    if a.vararg or a.kwarg or a.posonlyargs or a.kwonlyargs:
        return "signature"
    if not a.args or any(param_type(p.annotation) is None for p in a.args):
        return "param_types"
    n_lines = (fn.end_lineno or fn.lineno) - fn.lineno + 1
    if n_lines > MAX_BODY_LINES:
        return "too_long"
    local = {p.arg for p in a.args}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            local.add(node.id)
        elif isinstance(node, ast.arg):
            local.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            local.add(node.name)
    for node in ast.walk(fn):
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
            return "reads_globals"
    if not any(isinstance(n, ast.Return) and n.value is not None for n in ast.walk(fn)):
        return "no_return"
    return None


# ---------------------------------------------------------------------------- inputs


def _h(*parts: str) -> int:
    return int(hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:12], 16)


def sample_calls(fn: ast.FunctionDef, rel: str) -> list[tuple[Any, ...]]:
    """Up to CALLS_PER_FUNCTION argument tuples: the generic samples plus the constants the body
    compares against (so branches are reached), picked by a hash of the function (reruns agree)."""
    consts = [n.value for n in ast.walk(fn) if isinstance(n, ast.Constant)]
    pools: list[list[Any]] = []
    for p in fn.args.args:
        kind = param_type(p.annotation) or "int"
        pool = list(SAMPLES[kind])
        if kind == "str":
            pool = [c for c in consts if isinstance(c, str) and 0 < len(c) <= 24 and "\n" not in c][:3] + pool
        elif kind == "int":
            pool = [c for c in consts if type(c) is int and -100 < c < 100][:3] + pool
        pools.append(list(dict.fromkeys(map(_freeze, pool))))
    calls: list[tuple[Any, ...]] = []
    for k in range(CALLS_PER_FUNCTION * 3):
        args = tuple(pool[_h(rel, fn.name, str(i), str(k)) % len(pool)] for i, pool in enumerate(pools))
        if args not in calls:
            calls.append(args)
        if len(calls) == CALLS_PER_FUNCTION:
            break
    return calls


def _freeze(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def _thaw(v: Any, kind: str) -> Any:
    return list(v) if kind.startswith("list[") and isinstance(v, tuple) else v


# ---------------------------------------------------------------------------- the sandbox run

# Runs inside the sandbox: defines each function alone in a fresh namespace, calls it under a
# tracer that records the line about to run and the locals it changed, prints one JSON per call.
TRACER = r'''
from __future__ import annotations
import json, signal, sys

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
        elif event in ("line", "return", "exception"):
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
                        val = short(eval(expr, {"__builtins__": __builtins__}, dict(frame.f_locals)))
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
        return {"ok": False, "raised": type(err).__name__, "message": short(str(err)), "steps": steps,
                "subs": st["subs"]}
    finally:
        sys.settrace(None)
        signal.setitimer(signal.ITIMER_REAL, 0)

for case in json.load(open("cases.json")):
    ns = {"__builtins__": __builtins__}
    try:
        exec(compile(case["code"], "fn.py", "exec"), ns)
        args = [tuple(a) if k.startswith("tuple[") else a for a, k in zip(case["args"], case["kinds"])]
        out = trace(ns[case["name"]], args, case["subs"])
    except BaseException as err:
        out = {"ok": False, "abort": type(err).__name__}
    out["id"] = case["id"]
    print(json.dumps(out), flush=True)
'''


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
        kinds = [param_type(p.annotation) or "int" for p in c.fn.args.args]
        for args in c.calls:
            cases.append({"id": n, "name": c.fn.name, "code": c.code, "kinds": kinds, "subs": subexpressions(c),
                          "args": [_thaw(a, k) for a, k in zip(args, kinds, strict=True)]})
            n += 1
    script = TRACER.replace("MAX_REPR", str(MAX_REPR)).replace("MAX_STEPS", str(MAX_STEPS))
    res = run_python({"trace_calls.py": script, "cases.json": json.dumps(cases)}, "trace_calls.py",
                     timeout_s=60, limits=Limits(cpu_s=60, memory_bytes=1024**3))
    out: dict[int, dict[str, Any]] = {}
    for line in res.stdout.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[int(row["id"])] = row
    return out


# ---------------------------------------------------------------------------- the worked answer


_ARITH = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)


def is_arithmetic(fn: ast.FunctionDef) -> bool:
    """The function computes with numbers (+ - * / // % **), not only compares or indexes."""
    return any(isinstance(n, ast.BinOp | ast.AugAssign) and isinstance(n.op, _ARITH)
               and not any(isinstance(x, ast.Constant) and isinstance(x.value, str) for x in ast.walk(n))
               for n in ast.walk(fn))


def call_text(fn: ast.FunctionDef, args: tuple[Any, ...]) -> str:
    kinds = [param_type(p.annotation) or "int" for p in fn.args.args]
    return f"{fn.name}({', '.join(repr(_thaw(a, k)) for a, k in zip(args, kinds, strict=True))})"


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
    names = [p.arg for p in c.fn.args.args]
    start = ", ".join(f"{n} = {_thaw(a, param_type(p.annotation) or 'int')!r}"
                      for n, a, p in zip(names, args, c.fn.args.args, strict=True))
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
            text = f"`{src}`" + (f" sets {effect}" if effect else " runs")
        if parts := subs.pop(str(ln), None):  # the line's inner values, innermost first, once
            text = "; ".join(f"`{e}` is {v}" for e, v in parts) + ", so " + text
        out.append(f"{len(out)}. {text}.")
    if not row.get("ok"):
        out.append(f"{len(out)}. That line raises {row['raised']}: {row['message']}.")
    return out


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
    head = "import pytest\n\n" if any("pytest.approx" in a for a in asserts) else ""
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
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            if (why := is_pure(node)) is not None:
                ctx.skips.add(NAME, f"not_pure_{why}")
                continue
            # a def and its body alone, line 1 = the `def` line (no decorators: is_pure refused them)
            code = textwrap.dedent("\n".join(source.splitlines()[node.lineno - 1:node.end_lineno]))
            cand = Candidate(rel, module_of(rel), node, code)
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
            for args in c.calls:
                row = rows.get(n, {"ok": False, "abort": "no_output"})
                n += 1
                if "abort" in row:
                    ctx.skips.add(NAME, str(row["abort"]))
                    continue
                if " at 0x" in json.dumps(row):  # a value whose repr is a memory address: not reproducible
                    ctx.skips.add(NAME, "unstable_repr")
                    continue
                if len(row.get("steps", [])) < 2 and not row.get("subs"):  # one line, no inner value: no reasoning
                    ctx.skips.add(NAME, "trivial_trace")
                    continue
                done.append((args, row))
            if not done:
                ctx.skips.add(NAME, "no_traced_call")
            yield from self.drafts(c, done)

    def drafts(self, c: Candidate, done: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> Iterator[Draft]:
        where = dict(generator=NAME, source=c.rel, path=c.rel, lines=(c.fn.lineno, c.fn.end_lineno or c.fn.lineno))
        for args, row in done:
            # a number worked out with arithmetic: the hint lets a specialist file it under math
            numeric = row.get("ok") and row.get("type") in ("int", "float") and is_arithmetic(c.fn)
            hint = "arithmetic" if numeric else None
            prompt = (f"What does `{call_text(c.fn, args)}` return? Work through it step by step.\n\n"
                      f"```python\n{c.code}\n```")
            steps = "\n".join(render_steps(c, args, row))
            final = conclusion(c, args, row)
            yield Draft(task="exec_trace", messages=(("user", prompt), ("assistant", f"{steps}\n\n{final}")),
                        expected=str(row["value"]) if row.get("ok") else None, hint=hint, **where)
            yield Draft(task="exec_trace", format="think", thought=steps, hint=hint,
                        messages=(("user", prompt), ("assistant", final)), **where)
        if (test := test_code(c, done)) is not None:
            yield Draft(task="exec_test",
                        messages=(("user", f"Write a pytest test for `{c.fn.name}` in `{c.module}` that pins its "
                                           f"results on a few inputs.\n\n```python\n{c.code}\n```"),
                                  ("assistant", test)),
                        **where)
