"""Harvest benchmark: `HF_HUB_OFFLINE=1 .venv/bin/python benchmarks/bench_harvest.py`.

Builds a synthetic repo (1,000 Python files, 500 commits) in a temp dir with one
`git fast-import` call, times a full harvest and an incremental harvest of one new commit
(from the previous head as watermark), and prints one JSON line. Targets: full <= 60 s,
incremental <= 2 s on a 2-core box.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.harvester.core import HarvestPlan, harvest  # noqa: E402

N_FILES, N_COMMITS = 1000, 500
MESSAGES = ("Fix off-by-one in {f}", "Refactor {f} helpers", "Add retry support to {f}", "Update {f}")


def module(i: int, rev: int) -> str:
    funcs = []
    for j in range(4):
        funcs.append(
            f"def step_{i}_{j}(items: list[int], limit: int = {j + rev}) -> list[int]:\n"
            f'    """Keep the items of batch {i} below `limit` and scale them by {j + 1}.\n\n'
            f'    Used by pipeline stage {j} of module {i}."""\n'
            f"    if limit < 0:\n        raise ValueError('limit must be >= 0')\n"
            f"    return [x * {j + 1} for x in items if x < limit]\n"
        )
    dep = f"from pkg{(i + 1) % 10}.mod{(i + 1) % 100} import step_{(i + 1) % 100}_0\n\n" if i % 3 == 0 else ""
    return f'"""Module {i} of the synthetic benchmark."""\n\n{dep}\n' + "\n\n".join(funcs)


def path(i: int) -> str:
    return f"pkg{i % 10}/mod{i}.py"


def blob(text: str) -> bytes:
    data = text.encode()
    return b"data %d\n%s\n" % (len(data), data)


def commit(mark: int, message: str, files: dict[str, str], parent: int | None) -> bytes:
    out = b"commit refs/heads/main\nmark :%d\ncommitter Bench <bench@example.org> %d +0000\n" % (
        mark, 1_700_000_000 + mark)
    out += blob(message).replace(b"\n\n", b"\n", 0)
    if parent:
        out += b"from :%d\n" % parent
    for p, text in files.items():
        out += f"M 100644 inline {p}\n".encode() + blob(text)
    return out + b"\n"


def build(root: Path) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    stream = [commit(1, "Add synthetic modules", {path(i): module(i, 0) for i in range(N_FILES)}, None)]
    for c in range(2, N_COMMITS + 1):
        i = (c * 37) % N_FILES
        stream.append(commit(c, MESSAGES[c % 4].format(f=path(i)), {path(i): module(i, c)}, c - 1))
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=root, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=root, check=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "repo"
        t0 = time.perf_counter()
        build(root)
        t_build = time.perf_counter() - t0

        t0 = time.perf_counter()
        full = harvest(HarvestPlan(specialist="coder", repo=root, max_commits=N_COMMITS))
        t_full = time.perf_counter() - t0

        (root / path(5)).write_text(module(5, 999))
        subprocess.run(["git", "-c", "user.name=B", "-c", "user.email=b@example.org", "commit", "-qam",
                        "Fix limit check in pkg5/mod5.py"], cwd=root, check=True)
        t0 = time.perf_counter()
        inc = harvest(HarvestPlan(specialist="coder", repo=root, since_commit=full.head_commit))
        t_inc = time.perf_counter() - t0
        # the incremental figure that matters for a commit hook: diffs only, no full AST re-walk
        from services.harvester.generators.git_diffs import GitDiffs

        t0 = time.perf_counter()
        inc_diffs = harvest(HarvestPlan(specialist="coder", repo=root, since_commit=full.head_commit),
                            sources=(GitDiffs(),))
        t_inc_diffs = time.perf_counter() - t0
    print(json.dumps({
        "files": N_FILES, "commits": N_COMMITS, "build_s": round(t_build, 2),
        "full_s": round(t_full, 2), "full_examples": len(full.examples),
        "incremental_s": round(t_inc, 2), "incremental_examples": len(inc.examples),
        "incremental_diffs_only_s": round(t_inc_diffs, 2), "incremental_diffs_only_examples": len(inc_diffs.examples),
    }))


if __name__ == "__main__":
    main()
