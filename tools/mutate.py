"""A small mutation runner for the loop's safety-critical modules: `make test-mutations`.

For each module below it generates single-change mutants of the named functions (AST-based:
flipped comparisons, and/or swapped, negated conditions, `not` dropped, changed numeric
constants, True/False swapped, `return x` → `return None`, a call statement deleted, + / -
swapped, an element dropped from a literal table) plus a few curated, realistic one-line
changes (the ones a mutation audit found surviving), and for each mutant runs only that
module's targeted tests (`pytest -x`, a per-mutant timeout) in a temporary *copy* of the
repository, never in the working tree. A mutant is killed when the tests fail (or time out).

    python tools/mutate.py                   # every module; report in benchmarks/results/mutations.md
    python tools/mutate.py --module scrub    # one module; the others keep their last results (.json)
    python tools/mutate.py --list            # print the mutants, run nothing
    python tools/mutate.py --jobs 2          # two mutants at once (each in its own copy)

Surviving mutants are listed with a one-line reason when they are known to be equivalent
(`EQUIVALENT` below); any other survivor is a gap in the tests.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Target:
    name: str
    path: str
    functions: tuple[str, ...]  # qualified names ("Registry.set_champion"); "<module>.NAME" for a table
    tests: tuple[str, ...]
    curated: tuple[tuple[str, str, str], ...] = ()  # (description, old text, new text) in `path` or "file::old"


# A curated mutant is (description, old, new); old may be "other/file.py::text" to mutate another file.
TARGETS: tuple[Target, ...] = (
    Target(
        "scrub", "shared/scrub.py",
        ("<module>._TOKEN_PATTERNS", "_b64_blob", "_is_secret_value", "scrub"),
        ("tests/harvester/test_scrub_kinds.py", "tests/harvester/test_scrub_values.py",
         "tests/harvester/test_scrub.py"),
    ),
    Target(
        "decontamination", "services/judge/decontaminate.py",
        ("NgramIndex.add", "NgramIndex.match", "_suite_items", "_chat_items", "source_files", "load_index",
         "decontaminate"),
        ("tests/judge/test_decontaminate_edges.py", "tests/judge/test_decontaminate.py",
         "tests/judge/test_judge_defaults.py", "tests/judge/test_judge.py"),
        curated=(
            ("the judge's default suites are none (17 suite files -> 0)",
             "services/judge/config.py::        return tuple(dict.fromkeys(d.resolve() for d in dirs))",
             "        return ()"),
            ("decontamination off by default", "services/judge/config.py::    decontaminate: bool = True",
             "    decontaminate: bool = False"),
            ("an overlap threshold no example reaches",
             "services/judge/config.py::    decontam_overlap: float = 0.5", "    decontam_overlap: float = 1.0"),
        ),
    ),
    Target(
        "dedup", "services/judge/dedup.py",
        ("MinHasher.signature", "LSHIndex.match", "DedupHistory.update", "deduplicate"),
        ("tests/judge/test_dedup_edges.py", "tests/judge/test_dedup.py", "tests/judge/test_judge_defaults.py",
         "tests/judge/test_judge.py"),
        curated=(
            ("the judge's near-duplicate threshold nothing reaches",
             "services/judge/config.py::    dedup_threshold: float = 0.8", "    dedup_threshold: float = 1.01"),
        ),
    ),
    Target(
        "promotion policy", "services/promoter/policy.py", ("Policy.from_profile", "decide", "settle"),
        ("tests/promoter/test_policy.py", "tests/promoter/test_policy_boundaries.py",
         "tests/promoter/test_promoter_service.py"),
    ),
    Target(
        "registry", "shared/registry.py",
        ("Registry._get", "Registry.champion", "Registry.set_champion", "Registry.archived", "Registry.rollback"),
        ("tests/shared/test_registry_race.py", "tests/shared/test_registry_rollback.py",
         "tests/shared/test_store_registry.py"),
        curated=(
            ("compare-and-set replaced by a blind put",
             "            return await self.kv.update(key, data, last=expected_revision)",
             "            return await self.kv.put(key, data)"),
        ),
    ),
    Target(
        "evaluator pairing", "services/evaluator/evaluate.py", ("evaluate", "compare"),
        ("tests/evaluator/test_evaluate_result.py", "tests/evaluator/test_evaluate.py",
         "tests/evaluator/test_pairing.py"),
        curated=(
            ("eval.completed: candidate and champion scores swapped",
             "services/evaluator/service.py::candidate=candidate.categories, candidate_overall=candidate.overall,",
             "candidate=champion_result.categories, candidate_overall=champion_result.overall,"),
            ("eval.completed: champion scored as the candidate",
             "services/evaluator/service.py::champion=champion_result.categories, "
             "champion_overall=champion_result.overall,",
             "champion=candidate.categories, champion_overall=candidate.overall,"),
        ),
    ),
    Target(
        "bus publish/ack/DLQ", "shared/bus.py",
        ("Bus.publish", "Bus.ensure_consumer", "Bus._deliver", "Bus.dead_letter", "Bus._gave_up"),
        # test_bus.py first: its malformed-event test reads the first two dead letters of cycle "unknown"
        ("tests/shared/test_bus.py", "tests/shared/test_bus_delivery.py"),
    ),
    Target(
        "hooks", "services/harvester/hooks.py", ("git_dir_of", "hooks_dir", "render", "install"),
        ("tests/harvester/test_hook_latency.py", "tests/harvester/test_hook_install.py",
         "tests/harvester/test_hooks.py"),
        curated=(
            ("the hook publishes in the foreground (commits wait on NATS)",
             '2>&1 &\nexit $status', '2>&1\nexit $status'),
            ("the hook drops the chained hook's exit status", 'exit $status\n"""', 'exit 0\n"""'),
        ),
    ),
)

# Survivors known to be equivalent (no observable behaviour changes): (module, description regex) -> reason.
EQUIVALENT: dict[tuple[str, str], str] = {
    ("scrub", r"`len\(raw\) >= 2` -> `len\(raw\) > 2`|constant 2 -> 3 in `len\(raw\) >= 2`"):
        "a quoted value is matched with both quotes, so raw is never shorter than 2; "
        "`\"\"` is a placeholder either way",
    ("scrub", r"`len\(val\) >= 2` -> `len\(val\) > 2`|constant 2 -> 3 in `len\(val\) >= 2`"):
        "only secret values reach this line, and a quoted secret has at least 3 characters inside its quotes",
    ("scrub", r"`return False` -> `return None` in _is_secret_value"):
        "the predicate is only used as a truth value; None and False are both false",
    ("scrub", r"constant 0 -> 1 in `m.start\(0\)`"): "the `key` group opens the match: start(1) == start(0)",
    ("decontamination", r"`len\(hashes\) >= fallback` -> `len\(hashes\) > fallback`"):
        "an item of exactly `fallback` words is one gram of all its words either way",
    ("decontamination", r"`share > best\[0\]` -> `share >= best\[0\]`"):
        "only which of two equally overlapped items is named changes, not whether the example is dropped",
    ("dedup", r"constant 16 -> 17 in `:16`"): "only the length of the hash prefix quoted in a rejection's detail",
    ("evaluator pairing", r"constant 3 -> 4 in `round\(time.monotonic"): "duration_s gets one more decimal",
    ("evaluator pairing", r"constant 6 -> 7 in `round\("): "scores are rounded for display; 7 decimals instead of 6",
    ("dedup", r"delete `seen.add\(i\)`"): "only skips re-checking a candidate found in two bands",
    ("dedup", r"constant 1 -> 2 in `np.zeros\(1, np.uint64\)`"):
        "an empty text's one shingle (0) twice has the same minimum hash",
    ("decontamination", r"`hi > lo` -> `hi >= lo`"): "a miss then selects an empty slice: it adds no owners",
    ("decontamination", r"constant 32 -> 33 in `:32`"): "only the cache file's name gets one character longer",
    ("decontamination|dedup|evaluator pairing", r"True -> False in `strict=True`"):
        "zip(strict=) only checks that lengths match, and they do by construction",
    ("registry", r"`'wrong last sequence' in str\(err\) or 'key exists'.*` and/or swapped"):
        "no error message holds both phrases; the installed nats-py raises KeyWrongLastSequenceError for "
        "conflicts, so the message-text fallback only serves other client versions",
    ("registry", r"`r.promoted_at < current.promoted_at` -> `r.promoted_at <= current.promoted_at`"):
        "two promotions never share a microsecond timestamp (utcnow() at each sequential CAS)",
    ("bus publish/ack/DLQ", r"constant 3 -> 4 in `spec.ack_wait / 3`"):
        "heartbeats a little more often: still several per ack_wait",
}


# ---------------------------------------------------------------- mutant generation


@dataclass
class Mutant:
    module: str
    path: str
    line: int
    description: str
    start: int  # character offsets into the original file
    end: int
    replacement: str
    curated: bool = False
    status: str = "pending"
    seconds: float = 0.0
    detail: str = field(default="")

    @property
    def label(self) -> str:
        return f"{self.path}:{self.line} {self.description}"


def _offsets(source: str) -> list[int]:
    starts, pos = [0], 0
    for line in source.splitlines(keepends=True):
        pos += len(line)
        starts.append(pos)
    return starts


def _span(node: ast.AST, lines: list[int]) -> tuple[int, int]:
    return lines[node.lineno - 1] + node.col_offset, lines[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]


_CMP_SWAP: dict[type, type] = {
    ast.Lt: ast.LtE, ast.LtE: ast.Lt, ast.Gt: ast.GtE, ast.GtE: ast.Gt, ast.Eq: ast.NotEq, ast.NotEq: ast.Eq,
    ast.In: ast.NotIn, ast.NotIn: ast.In, ast.Is: ast.IsNot, ast.IsNot: ast.Is,
}
_BIN_SWAP: dict[type, type] = {ast.Add: ast.Sub, ast.Sub: ast.Add, ast.Mult: ast.Div, ast.Div: ast.Mult}


def _copy(node: ast.AST) -> ast.AST:
    return ast.parse(ast.unparse(node), mode="eval").body if isinstance(node, ast.expr) else node


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _is_quiet(func: ast.expr) -> bool:
    """`log.info(...)`, `metrics.X.labels(...).inc()` and the like."""
    while isinstance(func, (ast.Attribute, ast.Call)):
        func = func.value if isinstance(func, ast.Attribute) else func.func
    return isinstance(func, ast.Name) and func.id in {"log", "logger", "logging", "metrics"}


def _scopes(tree: ast.Module, wanted: tuple[str, ...]) -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []

    def walk(body: list[ast.stmt], prefix: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if f"{prefix}{node.name}" in wanted:
                    found.append((f"{prefix}{node.name}", node))
            elif isinstance(node, ast.ClassDef):
                walk(node.body, f"{prefix}{node.name}.")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not prefix:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and f"<module>.{t.id}" in wanted:
                        found.append((f"<module>.{t.id}", node))

    walk(tree.body, "")
    return found


def generate(target: Target, source: str) -> list[Mutant]:
    tree = ast.parse(source)
    lines = _offsets(source)
    mutants: list[Mutant] = []

    def add(node: ast.AST, scope: str, what: str, replacement: str) -> None:
        start, end = _span(node, lines)
        mutants.append(Mutant(target.name, target.path, node.lineno, f"{what} in {scope}", start, end, replacement))

    for scope, root in _scopes(tree, target.functions):
        if scope.startswith("<module>."):
            value = root.value  # type: ignore[attr-defined]
            if isinstance(value, (ast.Tuple, ast.List)):
                for i, elt in enumerate(value.elts):
                    rest = [e for j, e in enumerate(value.elts) if j != i]
                    new = type(value)(elts=rest, ctx=ast.Load())
                    text = ast.unparse(new) if rest else ("()" if isinstance(value, ast.Tuple) else "[]")
                    if isinstance(value, ast.Tuple) and len(rest) == 1:
                        text = f"({ast.unparse(rest[0])},)"
                    add(value, scope, f"drop entry {i} `{_short(ast.unparse(elt), 50)}`", text)
            continue
        # Logging and metrics calls are not mutated (nor anything inside them): they promise no behaviour.
        quiet = {id(sub) for n in ast.walk(root) if isinstance(n, ast.Call) and _is_quiet(n.func)
                 for sub in ast.walk(n)}
        quiet |= {id(n) for n in ast.walk(root) if isinstance(n, ast.Expr) and id(n.value) in quiet}
        body_nodes = [n for stmt in root.body for n in ast.walk(stmt) if id(n) not in quiet]  # type: ignore[attr-defined]
        parents = {id(child): n for n in body_nodes for child in ast.iter_child_nodes(n)
                   if not isinstance(n, (ast.stmt,))}
        for node in body_nodes:
            if isinstance(node, ast.Compare):
                for i, op in enumerate(node.ops):
                    if type(op) in _CMP_SWAP:
                        new = _copy(node)
                        new.ops[i] = _CMP_SWAP[type(op)]()  # type: ignore[attr-defined]
                        add(node, scope, f"`{_short(ast.unparse(node), 50)}` -> `{_short(ast.unparse(new), 50)}`",
                            ast.unparse(new))
            elif isinstance(node, ast.BoolOp):
                new = _copy(node)
                new.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()  # type: ignore[attr-defined]
                add(node, scope, f"`{_short(ast.unparse(node), 50)}` and/or swapped", f"({ast.unparse(new)})")
            elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
                add(node, scope, f"drop `not` in `{_short(ast.unparse(node), 50)}`", f"({ast.unparse(node.operand)})")
            elif isinstance(node, ast.BinOp) and type(node.op) in _BIN_SWAP:
                new = _copy(node)
                new.op = _BIN_SWAP[type(node.op)]()  # type: ignore[attr-defined]
                add(node, scope, f"`{_short(ast.unparse(node), 50)}` -> `{_short(ast.unparse(new), 50)}`",
                    f"({ast.unparse(new)})")
            elif isinstance(node, ast.Constant) and type(node.value) in (int, float) and abs(node.value) < 1000:
                v = node.value
                new_v = v + 1 if isinstance(v, int) else (v * 2 if v else 1.0)
                where = parents.get(id(node))
                ctx = f" in `{_short(ast.unparse(where), 40)}`" if where is not None else ""
                add(node, scope, f"constant {v!r} -> {new_v!r}{ctx}", repr(new_v))
            elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
                where = parents.get(id(node))
                ctx = f" in `{_short(ast.unparse(where), 40)}`" if where is not None else ""
                add(node, scope, f"{node.value} -> {not node.value}{ctx}", repr(not node.value))
            redundant = isinstance(getattr(node, "test", None), ast.UnaryOp) or (  # covered by the two above
                isinstance(getattr(node, "test", None), ast.Compare) and len(node.test.ops) == 1  # type: ignore[attr-defined]
                and type(node.test.ops[0]) in _CMP_SWAP)  # type: ignore[attr-defined]
            if isinstance(node, (ast.If, ast.While)) and not isinstance(node.test, ast.Constant) and not redundant:
                add(node.test, scope, f"negate condition `{_short(ast.unparse(node.test), 50)}`",
                    f"not ({ast.unparse(node.test)})")
            elif isinstance(node, ast.Return) and node.value is not None and not (
                isinstance(node.value, ast.Constant) and type(node.value.value) in (type(None), bool)
            ):  # `return False` -> `return None` is the same to every caller; True <-> False is mutated above
                add(node, scope, f"`return {_short(ast.unparse(node.value), 40)}` -> `return None`", "return None")
            elif isinstance(node, ast.Expr) and isinstance(node.value, (ast.Call, ast.Await)):
                add(node, scope, f"delete `{_short(ast.unparse(node), 60)}`", "pass")
            elif isinstance(node, (ast.Assign, ast.AugAssign)) and isinstance(node, ast.AugAssign):
                add(node, scope, f"delete `{_short(ast.unparse(node), 60)}`", "pass")
    return [m for m in mutants if _compiles(source, m)]


def _apply(source: str, m: Mutant) -> str:
    return source[: m.start] + m.replacement + source[m.end :]


def _compiles(source: str, m: Mutant) -> bool:
    try:
        compile(_apply(source, m), m.path, "exec")
    except SyntaxError:
        return False
    return True


def curated(target: Target, read) -> list[Mutant]:  # noqa: ANN001 - read(path) -> str
    out = []
    for description, old, new in target.curated:
        path, _, text = old.rpartition("::") if "::" in old else (target.path, "", old)
        source = read(path)
        if source.count(text) != 1:
            print(f"  ! curated mutant no longer applies ({source.count(text)} matches): {description}",
                  file=sys.stderr)
            continue
        start = source.index(text)
        line = source.count("\n", 0, start) + 1
        out.append(Mutant(target.name, path, line, f"[curated] {description}", start, start + len(text), new,
                          curated=True))
    return out


# ---------------------------------------------------------------- running


_SKIP = {".git", ".venv", ".ouro", "__pycache__", ".pytest_cache", ".ruff_cache", ".cache"}


def repo_files(root: Path) -> list[str]:
    """Tracked and untracked-but-not-ignored files (what a commit could hold), as they are now."""
    proc = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True)
    if proc.returncode == 0:
        return [f for f in proc.stdout.splitlines() if (root / f).is_file()]
    # not a git checkout (an exported tree): everything but environments and caches
    return [str(p.relative_to(root)) for p in root.rglob("*")
            if p.is_file() and not _SKIP & set(p.relative_to(root).parts) and p.suffix != ".pyc"]


def make_copy(root: Path, dest: Path) -> Path:
    for f in repo_files(root):
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / f, target)
    return dest


def run_tests(copy: Path, tests: list[str], timeout: float) -> tuple[str, float, str]:
    env = os.environ | {
        "PYTHONPATH": str(copy), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"),
        "XDG_CACHE_HOME": str(copy / ".cache"),
    }
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:randomly", *tests]
    started = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=timeout,
                              start_new_session=True)
    except subprocess.TimeoutExpired:
        return "killed (timeout)", time.monotonic() - started, ""
    took = time.monotonic() - started
    tail = (proc.stdout + proc.stderr).strip().splitlines()[-1:] or [""]
    if proc.returncode == 0:
        return "survived", took, tail[0]
    if proc.returncode in (1, 2, 3):
        return "killed", took, tail[0]
    return f"killed (exit {proc.returncode})", took, tail[0]


def run_in_copies(mutants: list[Mutant], copies: list[Path], run_one) -> None:  # noqa: ANN001
    """Run each mutant in whichever copy of the repository is free (one mutant per copy at a time)."""
    free: queue.Queue[Path] = queue.Queue()
    for copy in copies:
        free.put(copy)

    def job(m: Mutant) -> Mutant:
        copy = free.get()
        try:
            return run_one(m, copy)
        finally:
            free.put(copy)

    with ThreadPoolExecutor(max_workers=len(copies)) as pool:
        list(pool.map(job, mutants))


def equivalent_reason(m: Mutant) -> str | None:
    for (module, pattern), reason in EQUIVALENT.items():
        if re.fullmatch(module, m.module) and re.search(pattern, m.description):
            return reason
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", help="only these modules (by name); repeatable")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    parser.add_argument("--jobs", type=int, default=1, help="mutants run at once (each in its own copy)")
    parser.add_argument("--timeout-factor", type=float, default=4.0, help="per-mutant timeout = factor x baseline")
    parser.add_argument("--report", default=str(ROOT / "benchmarks" / "results" / "mutations.md"))
    parser.add_argument("--root", default=str(ROOT), help="the repository to copy and mutate")
    args = parser.parse_args(argv)

    root = Path(args.root).resolve()
    targets = [t for t in TARGETS if not args.module or t.name in args.module or t.name.split()[0] in args.module]
    work = Path(tempfile.mkdtemp(prefix="ouro-mutations-"))
    started = time.monotonic()
    try:
        base = make_copy(root, work / "copy-0")
        copies = [base] + [make_copy(root, work / f"copy-{i}") for i in range(1, max(1, args.jobs))]

        def read(path: str) -> str:
            return (base / path).read_text(encoding="utf-8")

        plan: list[tuple[Target, list[Mutant]]] = []
        for t in targets:
            source = read(t.path)
            tree = ast.parse(source)
            missing = [f for f in t.functions if f not in {s for s, _ in _scopes(tree, t.functions)}]
            if missing:
                print(f"  ! {t.name}: no {', '.join(missing)} in {t.path}", file=sys.stderr)
            plan.append((t, generate(t, source) + curated(t, read)))
        if args.list:
            for t, ms in plan:
                print(f"## {t.name} ({len(ms)} mutants; tests: {' '.join(t.tests)})")
                for m in ms:
                    print(f"  {m.label}")
            return 0

        results: dict[str, Result] = {}
        for t, mutants in plan:
            module_started = time.monotonic()
            tests = [x for x in t.tests if (base / x).exists()]
            status, took, tail = run_tests(base, tests, timeout=900)
            if status != "survived":
                print(f"## {t.name}: the unmutated tests fail ({tail}); skipped", flush=True)
                results[t.name] = Result(mutants, f"baseline failing: {tail}", time.monotonic() - module_started)
                continue
            timeout = max(60.0, took * args.timeout_factor)
            print(f"## {t.name}: {len(mutants)} mutants, baseline {took:.1f} s", flush=True)

            def run_one(m: Mutant, copy: Path, tests: list[str] = tests, timeout: float = timeout) -> Mutant:
                path = copy / m.path
                original = path.read_text(encoding="utf-8")
                try:
                    path.write_text(_apply(original, m), encoding="utf-8")
                    m.status, m.seconds, m.detail = run_tests(copy, tests, timeout)
                finally:
                    path.write_text(original, encoding="utf-8")
                mark = "." if m.status.startswith("killed") else "S"
                print(f"  {mark} {m.seconds:5.1f}s {m.label}", flush=True)
                return m

            run_in_copies(mutants, copies, run_one)
            results[t.name] = Result(mutants, "", time.monotonic() - module_started)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # Modules not run this time keep their last results (`--module X` reruns one and keeps the rest).
    store = Path(args.report).with_suffix(".json")
    merged = {**load_results(store), **results}
    store.parent.mkdir(parents=True, exist_ok=True)
    store.write_text(json.dumps({k: v.to_json() for k, v in merged.items()}, indent=1), encoding="utf-8")
    report = render_report([(t.name, merged[t.name]) for t in TARGETS if t.name in merged],
                           time.monotonic() - started)
    print(report)
    Path(args.report).write_text(report, encoding="utf-8")
    print(f"report written to {args.report} (results: {store})")
    return 0


@dataclass
class Result:
    mutants: list[Mutant]
    problem: str
    seconds: float

    def to_json(self) -> dict:
        keep = ("module", "path", "line", "description", "status", "seconds")
        return {"problem": self.problem, "seconds": round(self.seconds, 1),
                "mutants": [{k: getattr(m, k) for k in keep} for m in self.mutants]}

    @classmethod
    def from_json(cls, data: dict) -> Result:
        mutants = [Mutant(start=0, end=0, replacement="", **m) for m in data["mutants"]]
        return cls(mutants, data["problem"], data["seconds"])


def load_results(path: Path) -> dict[str, Result]:
    try:
        return {k: Result.from_json(v) for k, v in json.loads(path.read_text(encoding="utf-8")).items()}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def render_report(results: list[tuple[str, Result]], elapsed: float) -> str:
    whole = sum(r.seconds for _, r in results)
    lines = ["# Mutation check (`make test-mutations`)", "",
             f"All modules: {whole / 60:.1f} min of mutant runs (this invocation: {elapsed / 60:.1f} min). "
             "A mutant is killed when its module's targeted tests fail (or time out).", "",
             "| module | mutants | killed | survived (equivalent) | kill rate | kill rate, equivalents excluded "
             "| minutes |", "|---|---|---|---|---|---|---|"]
    survivors: list[tuple[Mutant, str | None]] = []
    total = killed_all = 0
    for name, result in results:
        mutants, problem = result.mutants, result.problem
        if problem:
            lines.append(f"| {name} | {len(mutants)} | - | - | {problem} | - | {result.seconds / 60:.1f} |")
            continue
        killed = sum(m.status.startswith("killed") for m in mutants)
        surv = [m for m in mutants if m.status == "survived"]
        equiv = [m for m in surv if equivalent_reason(m)]
        survivors += [(m, equivalent_reason(m)) for m in surv]
        total += len(mutants)
        killed_all += killed
        rate = killed / len(mutants) if mutants else 1.0
        adj = killed / (len(mutants) - len(equiv)) if len(mutants) > len(equiv) else 1.0
        lines.append(f"| {name} | {len(mutants)} | {killed} | {len(surv)} ({len(equiv)}) | {rate:.0%} | {adj:.0%} "
                     f"| {result.seconds / 60:.1f} |")
    if total:
        lines.append(f"| **all** | {total} | {killed_all} | {total - killed_all} | {killed_all / total:.0%} | "
                     f"| {whole / 60:.1f} |")
    lines += ["", "## Surviving mutants", ""]
    if not survivors:
        lines.append("None.")
    for m, reason in survivors:
        lines.append(f"- `{m.label}` — {'equivalent: ' + reason if reason else 'NOT killed: a gap in the tests'}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
