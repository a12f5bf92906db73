"""The import structure the architecture promises: no service imports another service, `shared/`
imports no service (nor the CLI, nor test support), and no package's modules import each other
in a loop at import time. Read from the source with `ast`, so a new module is checked as written."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _module(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
    return ".".join(parts)


def _outside_functions(tree: ast.AST) -> list[ast.AST]:
    """Every node not inside a function: module level, `if TYPE_CHECKING:` blocks, class bodies."""
    out: list[ast.AST] = []
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        out.append(node)
        todo.extend(ast.iter_child_nodes(node))
    return out


def _imports(path: Path, top_level_only: bool) -> set[str]:
    """Absolute module names imported by the file (top level only: the module's dependencies,
    typing-only imports included; a lazy import inside a function is not one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = _outside_functions(tree) if top_level_only else list(ast.walk(tree))
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _files(*dirs: str) -> list[Path]:
    return sorted(p for d in dirs for p in (ROOT / d).rglob("*.py"))


def test_no_service_imports_another_service() -> None:
    bad = []
    for path in _files("services"):
        own = path.relative_to(ROOT).parts[1]
        for name in _imports(path, top_level_only=False):
            parts = name.split(".")
            if parts[0] == "services" and len(parts) > 1 and parts[1] != own:
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
            if parts[0] in ("ouro", "tests", "benchmarks"):
                bad.append(f"{path.relative_to(ROOT)} imports {name}")
    assert not bad, "\n".join(bad)


def test_shared_imports_no_service_cli_or_test_support() -> None:
    bad = [f"{p.relative_to(ROOT)} imports {n}" for p in _files("shared") for n in _imports(p, top_level_only=False)
           if n.split(".")[0] in ("services", "ouro", "tests", "benchmarks")]
    assert not bad, "\n".join(bad)


def test_no_import_loops_at_import_time() -> None:
    files = _files("shared", "services", "ouro")
    modules = {_module(p): p for p in files}
    graph = {m: {n for n in _imports(p, top_level_only=True) if n in modules and n != m} for m, p in modules.items()}
    # a package's __init__ importing its own submodules is how packages re-export, not a loop
    graph = {m: {n for n in deps if not m.startswith(n + ".") or modules[n].name != "__init__.py"}
             for m, deps in graph.items()}

    loops: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph[m]):
            if state.get(n) == 1:
                loops.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, [*stack, n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not loops, "\n".join(" -> ".join(loop) for loop in loops)


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    # the parser finds both import forms, nested imports included (so the checks above can fail)
    f = tmp_path / "x.py"
    f.write_text("import services.judge.core\nif TYPE_CHECKING:\n    from services.harvester.core import Plan\n"
                 "def f():\n    from services.trainer import train\n")
    assert {"services.judge.core", "services.trainer", "services.trainer.train"} <= _imports(f, top_level_only=False)
    assert "services.trainer" not in _imports(f, top_level_only=True)
    assert "services.harvester.core" in _imports(f, top_level_only=True)
