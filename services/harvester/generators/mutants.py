"""Bugs put into the repository on purpose, caught by its own tests → "this test fails: find and fix
the bug" (task `fix_mutant`) and "review this change; CI failed on it" (task `review_mutant`).

The answer is never guessed. A one-line mutation of a project function (a comparison turned
around, `and` for `or`, a dropped `not`, `+` for `-`, a flipped `return True`, an off-by-one
constant) is applied to a copy of the repository in the evaluation sandbox (shared/sandbox.py) and
the repository's own test files that import the module run against it with pytest. Only a mutant
that the tests kill (they pass on the unchanged code, then fail on the mutant with an assertion or
an exception, not an import error) becomes an example, so the bug is real, the failure output is
what pytest printed, and the fix (the original line) is known to make those tests pass again.
SWE-smith and mutation-testing tools work the same way; here one mutant per function at most, so
a harvest spreads over the code.

The prompt shows what finding the bug needs: the failing test's output and the function as it now
reads (or, for the review, the diff and the CI output); the answer names the faulty line, says
what the mutation does to the behaviour, in words bound to that operator, and gives the fix.

Bounded (MAX_MUTANTS tried, `plan.mutant_budget_s` of wall time in all, 0: off) and counted (`mutants:<reason>`):
`no_test_file` (no test file imports the module), `baseline_failing` (a test file that fails or
cannot import on the unchanged code, e.g. a test dependency not installed), `suite_not_runnable`
(the first GIVE_UP_AFTER test files all failed: the rest are not tried), `no_passing_test` (a function
whose test files all failed there), `survived` (the tests
still pass: no example), `import_error` (the mutant broke collection: no readable failure),
`timeout`, `over_limit`, `out_of_time`, `unstable_output` (a memory address in the output),
`pytest_unavailable` (the interpreter has no pytest: a runtime dependency of the package), and
`sandbox_unavailable` (nothing is run unconfined).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import git

from services.harvester.base import Context, Draft, in_skipped_dir, read_text
from services.harvester.generators.ast_code import is_test_path, module_name
from shared.sandbox import Limits, SandboxUnavailable, run_python

NAME = "mutants"
MAX_FILE_BYTES = 400_000
MAX_TREE_BYTES = 8_000_000  # the repository's Python files copied into the sandbox
MAX_MUTANTS = 48  # tried per harvest
MAX_FUNCTION_LINES = 60  # a longer function is past the prompt band
MAX_TEST_FILES = 4  # per module: the test files that import it, closest first
MAX_BASELINE = 12  # test files run on the unchanged code per harvest
GIVE_UP_AFTER = 6  # test files that all failed on the unchanged code: the suite cannot run here
TEST_TIMEOUT_S = 20
BASELINE_TIMEOUT_S = 30  # a test file slower than this on the unchanged code is not used
CHUNK = 6  # mutants per sandbox run: the sandbox returns only the last 20 kB of output
MAX_FAILURE_LINES = 28

# operator text -> (its replacement, the kind of change it makes)
COMPARE = {"<": ("<=", "boundary"), "<=": ("<", "boundary"), ">": (">=", "boundary"), ">=": (">", "boundary"),
           "==": ("!=", "negation"), "!=": ("==", "negation"), "in": ("not in", "negation"),
           "not in": ("in", "negation"), "is": ("is not", "negation"), "is not": ("is", "negation")}
BOOLOP = {"and": ("or", "either"), "or": ("and", "both")}
BINOP = {"+": ("-", "subtracts"), "-": ("+", "adds")}
_CMP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!=", ast.In: "in",
             ast.NotIn: "not in", ast.Is: "is", ast.IsNot: "is not"}
_ADDR = re.compile(r" at 0x[0-9a-f]+")
FnNode = ast.FunctionDef | ast.AsyncFunctionDef


@dataclass(frozen=True)
class Mutant:
    rel: str
    module: str
    qualname: str
    def_line: int  # the function's first line (its decorators included), 1-based in the file
    end_line: int
    line: int  # the mutated line, 1-based in the file
    original: str  # that line as it was
    mutated: str  # that line as the mutant has it
    old: str  # the operator or value replaced, and its replacement
    new: str
    kind: str  # boundary | negation | either | both | subtracts | adds | not_dropped | bool_return | off_by_one
    expr: str  # the mutated expression as it was, and as the mutant has it
    expr_new: str
    role: str  # where the expression sits: if | while | return | assert | value


@dataclass
class Site:
    """A function of the project and the mutants possible in it."""

    rel: str
    module: str
    qualname: str
    node: ast.FunctionDef | ast.AsyncFunctionDef
    mutants: list[Mutant] = field(default_factory=list)


def _h(*parts: object) -> str:
    return hashlib.sha256("\x00".join(map(str, parts)).encode()).hexdigest()


def _docstring(fn: FnNode) -> ast.AST | None:
    body = fn.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def _own_nodes(fn: FnNode) -> Iterator[ast.AST]:
    """The function's nodes, not those of nested defs or classes (they are sites of their own)."""
    stack = list(ast.iter_child_nodes(fn))
    while stack:
        n = stack.pop()
        if isinstance(n, FnNode | ast.ClassDef | ast.Lambda):
            continue
        yield n
        stack.extend(ast.iter_child_nodes(n))


@dataclass(frozen=True)
class Edit:
    """One mutation site: the text at [start, end) on `line` becomes `new`; `node` spans the expression."""

    line: int
    start: int
    end: int
    old: str
    new: str
    kind: str
    node: ast.expr


def _is_none_test(t: ast.expr) -> bool:
    return isinstance(t, ast.Compare) and len(t.ops) == 1 and isinstance(t.ops[0], ast.Is) \
        and isinstance(t.comparators[0], ast.Constant) and t.comparators[0].value is None


def _roles(fn: FnNode) -> dict[int, str]:
    """id(expression) -> where it sits, for the expressions whose truth decides control flow."""
    out: dict[int, str] = {}
    for n in _own_nodes(fn):
        if isinstance(n, ast.If | ast.While):
            out[id(n.test)] = "if" if isinstance(n, ast.If) else "while"
            t = n.test
            if isinstance(n, ast.If) and _is_none_test(t) and n.body and isinstance(a := n.body[0], ast.Assign) \
                    and len(a.targets) == 1 and ast.unparse(a.targets[0]) == ast.unparse(t.left):  # type: ignore[attr-defined]
                out[id(t)] = "if_default"  # `if x is None: x = <default>`: the None-default idiom
        elif isinstance(n, ast.Return) and n.value is not None:
            out[id(n.value)] = "return"
        elif isinstance(n, ast.Assert):
            out[id(n.test)] = "assert"
    return out


def mutations(fn: FnNode, lines: list[str]) -> Iterator[Edit]:
    """Each one-line mutation in `fn` (not in its docstring or nested defs).

    Columns are ast's UTF-8 byte offsets: only ASCII lines are taken, where they equal str indices."""
    doc = _docstring(fn)
    for n in _own_nodes(fn):
        if n is doc or getattr(n, "lineno", None) is None or n.lineno != n.end_lineno:
            continue
        text = lines[n.lineno - 1]
        if not text.isascii():
            continue
        if isinstance(n, ast.Compare) and len(n.ops) == 1 and n.left.end_lineno == n.lineno:
            op = _CMP_TEXT.get(type(n.ops[0]))
            a, b = n.left.end_col_offset, n.comparators[0].col_offset
            gap = text[a:b]
            if op in COMPARE and " ".join(gap.split()) == op:
                new, kind = COMPARE[op]
                yield Edit(n.lineno, a, b, op, f" {new} ", kind, n)
                if isinstance(c := n.comparators[0], ast.Constant) and type(c.value) is int and 0 <= c.value < 64:
                    yield Edit(n.lineno, c.col_offset, c.end_col_offset, str(c.value), str(c.value + 1),
                               "off_by_one", n)
        elif isinstance(n, ast.BoolOp) and len(n.values) == 2:
            op = "and" if isinstance(n.op, ast.And) else "or"
            a, b = n.values[0].end_col_offset, n.values[1].col_offset
            if text[a:b].strip() == op:
                new, kind = BOOLOP[op]
                yield Edit(n.lineno, a, b, op, f" {new} ", kind, n)
        elif isinstance(n, ast.BinOp) and isinstance(n.op, ast.Add | ast.Sub):
            op = "+" if isinstance(n.op, ast.Add) else "-"
            if any(isinstance(x, ast.Constant) and isinstance(x.value, str | bytes) or isinstance(x, ast.JoinedStr)
                   for x in (n.left, n.right)):
                continue  # `"a" + b` joins text: `-` would only raise a TypeError
            a, b = n.left.end_col_offset, n.right.col_offset
            if text[a:b].strip() == op:
                new, kind = BINOP[op]
                yield Edit(n.lineno, a, b, op, f" {new} ", kind, n)
        elif isinstance(n, ast.UnaryOp) and isinstance(n.op, ast.Not):
            a, b = n.col_offset, n.operand.col_offset
            if text[a:b].strip() == "not":
                yield Edit(n.lineno, a, b, "not", "", "not_dropped", n)
        elif isinstance(n, ast.Return) and isinstance(n.value, ast.Constant) and type(n.value.value) is bool:
            v = n.value
            yield Edit(v.lineno, v.col_offset, v.end_col_offset, str(v.value), str(not v.value), "bool_return", v)


def sites_of(rel: str, source: str, tree: ast.Module) -> Iterator[Site]:
    lines = source.splitlines()
    module = module_name(Path(rel))

    def visit(body: list[ast.stmt], prefix: str) -> Iterator[Site]:
        for node in body:
            if isinstance(node, ast.ClassDef):
                yield from visit(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, FnNode):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                end = node.end_lineno or node.lineno
                site = Site(rel, module, prefix + node.name, node)
                roles = _roles(node)
                if end - first + 1 <= MAX_FUNCTION_LINES:
                    for e in mutations(node, lines):
                        text = lines[e.line - 1]
                        mutated = text[:e.start] + e.new + text[e.end:]
                        x0, x1 = e.node.col_offset, e.node.end_col_offset
                        # the expression after the edit: its end moves by the edit's change in length
                        expr_new = mutated[x0:x1 + len(e.new) - (e.end - e.start)]
                        if mutated == text:
                            continue
                        site.mutants.append(Mutant(
                            rel, module, site.qualname, first, end, e.line, text, mutated, e.old,
                            " ".join(e.new.split()) or "(nothing)", e.kind, text[x0:x1], expr_new.strip(),
                            roles.get(id(e.node), "value")))
                if site.mutants:
                    yield site

    yield from visit(tree.body, "")


def imported_modules(tree: ast.Module) -> set[str]:
    """`import X` gives X; `from P import a` gives `P.a` (a submodule, or a name P exports)."""
    out: set[str] = set()
    for n in ast.walk(tree):
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names)
        elif isinstance(n, ast.ImportFrom) and n.module and not n.level:
            out.update(f"{n.module}.{a.name}" for a in n.names)
    return out


def tests_for(module: str, test_imports: dict[str, set[str]], known: set[str]) -> list[str]:
    """The test files that import `module` itself first, then those that import a package above it or
    a name from one (`from pkg import Signer` may reach `pkg.signer` through the package's re-exports)."""

    def owner(m: str) -> str:  # the module an import reaches: itself, or the one it took a name from
        return m if m in known or "." not in m else m.rsplit(".", 1)[0]

    exact = sorted(t for t, mods in test_imports.items() if any(owner(m) == module for m in mods))
    parent = sorted(t for t, mods in test_imports.items()
                    if t not in exact and any(module.startswith(owner(m) + ".") for m in mods))
    return (exact + parent)[:MAX_TEST_FILES]


def mutated_source(source: str, m: Mutant) -> str:
    lines = source.splitlines(keepends=True)
    end = lines[m.line - 1][len(m.original):]  # the line ending
    lines[m.line - 1] = m.mutated + end
    return "".join(lines)


# ---------------------------------------------------------------------------- the sandbox run

# Runs inside the sandbox: rebuilds the repository from tree.json, then runs pytest once per job
# (a baseline test file, or a mutant's file against its test files) in a forked child with a
# timeout, and prints one JSON line per job. A fork, not a new interpreter: the sandbox user may not
# be able to exec the interpreter's path again (it can lie under a home directory it cannot read).
# Plugins are not autoloaded and the repository's own pytest configuration is replaced by an empty
# one: its options may name plugins not installed here.
RUNNER = r'''
import json, os, pathlib, re, signal, sys, time
work = pathlib.Path.cwd()
root = work / "repo"
for rel, text in json.loads((work / "tree.json").read_text()).items():
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
(work / "empty.ini").write_text("[pytest]\n")
(work / "tmp").mkdir(exist_ok=True)
os.environ.update({"TMPDIR": str(work / "tmp"), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", "HOME": str(work)})
# no .pyc files: a mutant the same size as the line it replaces, written within the same second,
# would otherwise be run from the bytecode cached for the previous job's source
sys.dont_write_bytecode = True
try:
    import pytest  # once, before the forks: each job's child imports only the repository afresh
except ImportError:
    print(json.dumps({"no_pytest": True}), flush=True)
    sys.exit(0)
paths = [str(root / "src"), str(root)]
header = re.compile(r"^_{3,} (.+?) _{3,}$")
def failure(out):
    lines = out.splitlines()
    start = next((i for i, l in enumerate(lines) if header.match(l)), None)
    if start is None:
        return None, None
    end = next((j for j in range(start + 1, len(lines)) if header.match(lines[j]) or lines[j].startswith("=")),
               len(lines))
    return header.match(lines[start]).group(1), "\n".join(lines[start + 1:end]).strip("\n")
def pytest_in_child(tests, timeout, keyword=None):
    log = work / "out.txt"
    args = ["-x", "-q", "--tb=short", "--no-header", "-p", "no:cacheprovider", "-c", str(work / "empty.ini"),
            "--rootdir", str(root), *tests, *(["-k", keyword] if keyword else [])]
    pid = os.fork()
    if pid == 0:  # the child: a fresh import of the repository, its output to a file
        try:
            fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, 1); os.dup2(fd, 2)
            os.chdir(root)
            sys.path[:0] = paths
            code = pytest.main(args)
        except BaseException:
            code = 3
        sys.stdout.flush()
        os._exit(int(code))
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), log.read_text(errors="replace")
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", ""
        time.sleep(0.02)
for job in json.loads((work / "jobs.json").read_text()):
    target = root / job["rel"] if job.get("rel") else None
    saved = target.read_text() if target else None
    if target:
        target.write_text(job["text"])
    t0 = time.monotonic()
    rc, out = pytest_in_child(job["tests"], job["timeout"], job.get("keyword"))
    if rc in (0, 5) and job.get("keyword"):  # none named for it, or they all passed: all of the files' tests
        rc, out = pytest_in_child(job["tests"], max(1.0, job["timeout"] - (time.monotonic() - t0)))
    if target:
        target.write_text(saved)
    test, block = failure(out) if rc == 1 else (None, None)
    print(json.dumps({"id": job["id"], "rc": rc, "test": test, "failure": block,
                      "seconds": round(time.monotonic() - t0, 2)}), flush=True)
'''


def keyword(qualname: str) -> str | None:
    """The `-k` expression selecting the tests named for a function: its own name, stripped of leading
    underscores; none for dunders (`__init__` names no test) or names too short to mean anything."""
    name = qualname.rsplit(".", 1)[-1].lstrip("_")
    if qualname.rsplit(".", 1)[-1].startswith("__") or len(name) < 4 or not name.isidentifier():
        return None
    return name


def run_jobs(tree: dict[str, str], jobs: list[dict], timeout_s: float) -> dict[int, dict]:
    """Run `jobs` in one sandbox over a copy of `tree`; raises SandboxUnavailable."""
    res = run_python({"runner.py": RUNNER, "tree.json": json.dumps(tree), "jobs.json": json.dumps(jobs)},
                     "runner.py", timeout_s=timeout_s,
                     limits=Limits(cpu_s=int(timeout_s) + 10, memory_bytes=2 * 1024**3, processes=256,
                                   open_files=256))
    out: dict[int, dict] = {}
    for line in res.stdout.splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        if row.get("no_pytest"):
            raise PytestUnavailable("pytest is not installed for the sandbox's interpreter")
        out[int(row["id"])] = row
    return out


class PytestUnavailable(RuntimeError):
    """The sandbox's interpreter has no pytest: no repository test can run (a runtime dependency)."""


# ---------------------------------------------------------------------------- the drafts


def trimmed(block: str) -> str:
    lines = block.splitlines()
    if len(lines) > MAX_FAILURE_LINES:  # the end holds the assertion and the `E` lines: keep it
        lines = ["...", *lines[-MAX_FAILURE_LINES:]]
    return "\n".join(lines)


def error_line(block: str) -> str | None:
    """The first line of the last `E ` block: what finally failed, in pytest's words (an exception
    raised while handling another is reported after it)."""
    first = None
    previous_e = False
    for ln in block.splitlines():
        is_e = ln.startswith("E ")
        if is_e and not previous_e and ln[1:].strip():
            first = ln[1:].strip()
        previous_e = is_e
    return first


_WHERE = {"if": "the branch under it now runs in exactly the cases it should skip, and the other way round",
          "while": "the loop now runs in exactly the cases it should stop",
          "return": "the function now returns the opposite truth value",
          "assert": "the assertion now fails in exactly the cases it should pass",
          "value": "everything that reads it gets the opposite truth value"}


def explanation(m: Mutant) -> str:
    """What the mutation does to the behaviour, from the expression and where it sits."""
    old, new = f"`{m.expr}`", f"`{m.expr_new}`"
    if m.role == "if_default" and m.kind == "negation":
        name = m.expr.rsplit(" is None", 1)[0]
        return (f"`if {m.expr}:` fills in a default only when no `{name}` was given. With {new}, a `{name}` the "
                f"caller passed is overwritten by the default, and a missing one stays `None`.")
    if m.kind in ("negation", "not_dropped"):
        return f"{new} is the negation of {old}: {_WHERE.get(m.role, _WHERE['if'])}."
    if m.kind == "boundary":
        return (f"{new} differs from {old} only when the two sides are equal: that boundary case now takes "
                f"the other path.")
    if m.kind == "off_by_one":
        return f"{new} is off by one: the intended bound is `{m.old}`, not `{m.new}`."
    if m.kind == "either":
        return f"{new} holds as soon as one side does, where {old} needs both."
    if m.kind == "both":
        return f"{new} needs both sides, where {old} holds as soon as one side does."
    if m.kind in ("subtracts", "adds"):
        return f"{new} {m.kind} where {old} {'adds' if m.kind == 'subtracts' else 'subtracts'}."
    return f"`return {m.new}` hands the caller the opposite of the intended `{m.old}` on this path."


def fix_diff(m: Mutant) -> str:
    return f"```diff\n-{m.mutated}\n+{m.original}\n```"


def drafts_for(m: Mutant, source: str, test: str, block: str) -> Iterator[Draft]:
    lines = source.splitlines()
    mutated_lines = list(lines)
    mutated_lines[m.line - 1] = m.mutated
    fn = textwrap.dedent("\n".join(mutated_lines[m.def_line - 1:m.end_line]))
    failure = trimmed(block)
    err = error_line(block)
    where = dict(generator=NAME, source=m.rel, path=m.rel, lines=(m.def_line, m.end_line))
    why = explanation(m)
    seen = f" That is why the test fails: `{err}`." if err else ""
    prompt = (f"The test `{test}` fails:\n\n```\n{failure}\n```\n\n"
              f"It exercises `{m.qualname}` in `{m.rel}`, which reads:\n\n```python\n{fn}\n```\n\n"
              "Find the bug and fix it.")
    # the diff names the faulty line: quoting it once more is the repetition the judge drops
    answer = f"The bug is in `{m.qualname}`. {why}{seen}\n\nThe fix restores the intended line:\n\n{fix_diff(m)}"
    thought = (f"1. `{test}` fails" + (f" with `{err}`" if err else "") + ".\n"
               f"2. It goes through `{m.qualname}`; the line `{m.mutated.strip()}` decides that outcome.\n"
               f"3. {why}\n"
               f"4. So the line should read `{m.original.strip()}`.")
    yield Draft(task="fix_mutant", messages=(("user", prompt), ("assistant", answer)), **where)
    yield Draft(task="fix_mutant", format="think", thought=thought,
                messages=(("user", prompt), ("assistant", f"{why}\n\n{fix_diff(m)}")), **where)
    # the review: the diff that introduced the bug, with the CI output that caught it
    ctx_from = max(m.def_line, m.line - 3)
    ctx_to = min(m.end_line, m.line + 3)
    before = [f" {ln}" for ln in lines[ctx_from - 1:m.line - 1]]
    after = [f" {ln}" for ln in lines[m.line:ctx_to]]
    n = ctx_to - ctx_from + 1
    head = lines[m.def_line - 1].strip() if m.line != m.def_line else ""
    diff = "\n".join([f"--- a/{m.rel}", f"+++ b/{m.rel}", f"@@ -{ctx_from},{n} +{ctx_from},{n} @@ {head}".rstrip(),
                      *before, f"-{m.original}", f"+{m.mutated}", *after])
    review_prompt = (f"Review this change to `{m.qualname}`. CI ran the project's tests on it and "
                     f"`{test}` failed:\n\n```\n{failure}\n```\n\n```diff\n{diff}\n```")
    review = (f"Request changes: this change breaks `{m.qualname}`. {why}{seen}\n\n"
              f"Keep the original line:\n\n{fix_diff(m)}")
    yield Draft(task="review_mutant", messages=(("user", review_prompt), ("assistant", review)), **where)


def pick(sites: list[Site], limit: int, seed: str = "") -> tuple[list[Mutant], int]:
    """One mutant per function, then a second and a third round, up to `limit`, in an order fixed by
    `seed` (the HEAD commit): a rerun on the same commit tries the same mutants, a new commit others."""
    order = sorted(sites, key=lambda s: _h(seed, s.rel, s.qualname))
    rounds: list[Mutant] = []
    for i in range(3):
        rounds.extend(sorted(s.mutants, key=lambda m: _h(seed, m.line, m.old, m.new))[i]
                      for s in order if len(s.mutants) > i)
    return rounds[:limit], max(0, len(rounds) - limit)


class Mutants:
    name = NAME

    def __init__(self, max_mutants: int = MAX_MUTANTS) -> None:
        self.max_mutants = max_mutants
        self.seconds: dict[str, float] = {}  # test file -> its run time on the unchanged code

    def run(self, ctx: Context) -> Iterator[Draft]:
        root = ctx.plan.repo
        self.time_budget_s = ctx.plan.mutant_budget_s
        if root is None or self.time_budget_s <= 0:
            return
        g = git.Git(str(root))
        head = str(g.execute(["git", "rev-parse", "HEAD"])).strip()
        files = sorted(f for f in str(g.execute(["git", "-c", "core.quotepath=off", "ls-files", "--", "*.py"]))
                       .splitlines() if not in_skipped_dir(f))
        tree: dict[str, str] = {}
        sources: dict[str, str] = {}
        test_imports: dict[str, set[str]] = {}
        sites: list[Site] = []
        size = 0
        for rel in files:
            path = Path(root) / rel
            if path.is_symlink() or not path.is_file() or (text := read_text(path, ctx, NAME, MAX_FILE_BYTES)) is None:
                continue
            size += len(text)
            if size > MAX_TREE_BYTES:
                ctx.skips.add(NAME, "repository_too_large")
                return
            tree[rel] = text
            try:
                parsed = ast.parse(text)
            except (SyntaxError, ValueError):
                ctx.skips.add(NAME, "unparsable")  # still copied: its tests may need it as data
                continue
            base = rel.rsplit("/", 1)[-1]
            if base.startswith("test_") or base.endswith("_test.py"):
                test_imports[rel] = imported_modules(parsed)
            elif not is_test_path(rel) and base != "conftest.py":
                sources[rel] = text
                sites.extend(sites_of(rel, text, parsed))
        # Not recorded with ctx.read_paths: an example here is a whole exercise (the function as the
        # mutant has it, the failure), true of the code it shows even after the repository moves on.
        known = {module_name(Path(rel)) for rel in sources}
        tests_of = {m: tests_for(m, test_imports, known) for m in {s.module for s in sites}}
        covered = [s for s in sites if tests_of[s.module]]
        if len(covered) < len(sites):
            ctx.skips.add(NAME, "no_test_file", len(sites) - len(covered))
        if not covered:
            return
        started = time.monotonic()
        try:
            passing = self._baseline(ctx, tree, [tests_of[s.module] for s in covered], started)
            runnable = [s for s in covered if set(tests_of[s.module]) & passing]
            if len(runnable) < len(covered):
                ctx.skips.add(NAME, "no_passing_test", len(covered) - len(runnable))
            chosen, over = pick(runnable, self.max_mutants, seed=head)
            if over:
                ctx.skips.add(NAME, "over_limit", over)
            yield from self._run(ctx, tree, sources, tests_of, passing, chosen, started)
        except SandboxUnavailable:
            ctx.skips.add(NAME, "sandbox_unavailable", len(covered))
        except PytestUnavailable:
            ctx.skips.add(NAME, "pytest_unavailable", len(covered))

    def _baseline(self, ctx: Context, tree: dict[str, str], per_site: list[list[str]], started: float) -> set[str]:
        """The test files that pass on the unchanged code: the only ones a mutant is run against."""
        wanted = sorted({t for ts in per_site for t in ts})
        # smallest first: they import least and run fastest; and a suite whose first files all fail here
        # (they need a network, a service, a dependency not installed) is not tried file by file
        wanted.sort(key=lambda t: (len(tree[t]), t))
        if len(wanted) > MAX_BASELINE:
            ctx.skips.add(NAME, "test_files_over_limit", len(wanted) - MAX_BASELINE)
            wanted = wanted[:MAX_BASELINE]
        passing: set[str] = set()
        tried = 0
        for k in range(0, len(wanted), CHUNK):
            left = self.time_budget_s - (time.monotonic() - started)
            if left <= 0:
                ctx.skips.add(NAME, "out_of_time", len(wanted) - k)
                break
            if k >= GIVE_UP_AFTER and not passing:
                ctx.skips.add(NAME, "suite_not_runnable", len(wanted) - k)
                break
            part = wanted[k:k + CHUNK]
            base = run_jobs(tree, [{"id": i, "tests": [t], "timeout": min(BASELINE_TIMEOUT_S, left)}
                                   for i, t in enumerate(part)],
                            timeout_s=min(left, BASELINE_TIMEOUT_S * len(part)) + 10)
            for i, t in enumerate(part):
                if base.get(i, {}).get("rc") == 0:
                    passing.add(t)
                    self.seconds[t] = float(base[i].get("seconds") or BASELINE_TIMEOUT_S)
            tried = k + len(part)
        if failing := tried - len(passing):
            ctx.skips.add(NAME, "baseline_failing", failing)
        return passing

    def _run(self, ctx: Context, tree: dict[str, str], sources: dict[str, str], tests_of: dict[str, list[str]],
             passing: set[str], chosen: list[Mutant], started: float) -> Iterator[Draft]:
        jobs = []
        for i, m in enumerate(chosen):
            tests = [t for t in tests_of[m.module] if t in passing]
            # the tests named for the function first (`-k name`): a large test file runs in a fraction
            # a mutant that loops forever is stopped at twice its files' time on the unchanged code
            timeout = min(TEST_TIMEOUT_S, 2 * sum(self.seconds.get(t, BASELINE_TIMEOUT_S) for t in tests) + 3)
            jobs.append({"id": i, "rel": m.rel, "text": mutated_source(sources[m.rel], m), "tests": tests,
                         "keyword": keyword(m.qualname), "timeout": timeout})
        for k in range(0, len(jobs), CHUNK):
            left = self.time_budget_s - (time.monotonic() - started)
            if left <= 0:
                ctx.skips.add(NAME, "out_of_time", len(jobs) - k)
                break
            chunk = jobs[k:k + CHUNK]
            rows = run_jobs(tree, chunk, timeout_s=min(left, TEST_TIMEOUT_S * len(chunk)) + 10)
            for job in chunk:
                m = chosen[job["id"]]
                row = rows.get(job["id"])
                if row is None or row["rc"] == "timeout":
                    ctx.skips.add(NAME, "timeout")
                elif row["rc"] == 0:
                    ctx.skips.add(NAME, "survived")
                elif row["rc"] != 1 or not row.get("failure") or not row.get("test"):
                    ctx.skips.add(NAME, "import_error")  # collection broke: no failing assertion to read
                elif _ADDR.search(row["failure"]):
                    ctx.skips.add(NAME, "unstable_output")
                else:
                    yield from drafts_for(m, sources[m.rel], row["test"], row["failure"])
