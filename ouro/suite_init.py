"""`ouro suite init --repo PATH`: a held-out evaluation suite for your own repository.

    ouro suite init --repo ~/src/myproject --specialist coder [--out DIR] [--commits 5] [--share 0.2]
    export OURO_SPECIALISTS=DIR/specialists.yaml     # or `[loop] specialists = ...` in ouro.toml

Two categories of prompts, each answer checkable by the identifiers the code shows:
- `heldout_files`: a share of the repository's Python files (picked by a hash of their path, so
  the same files stay held out as the repository grows) is kept out of training; each of their
  functions becomes "here is a function with its name hidden: what is its name?" (`contains`);
- `recent_commits`: the newest commits: "which function did commit X ('message') change?".

The suite is plain files a person can read and edit: `<category>.jsonl` in the suite format
(shared/suites.py) and `HELDOUT.md` saying what was held out. It also writes a copy of the
specialist file whose `--specialist` entry evaluates on this suite. Held out from training
through the suite contract: the judge drops every example that overlaps a loaded specialist's
suite (services/judge/decontaminate.py), and each item carries the function's source as its
reference, so examples mined from a held-out file or commit are decontaminated away.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml

from shared.suites import ContainsSpec, PromptMessage, SuiteItem

SYSTEM = "You know this repository's code. Answer with the identifier only."
MIN_BODY_LINES = 3


class SuiteInitError(ValueError):
    pass


@dataclass(frozen=True)
class Function:
    path: str
    name: str
    source: str
    start: int
    end: int


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout


def functions(path: str, text: str) -> list[Function]:
    """Module-level functions and methods with a body of a few lines (short ones say nothing)."""
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return []
    lines = text.splitlines()
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and not node.name.startswith("__"):
            end = node.end_lineno or node.lineno
            if end - node.lineno >= MIN_BODY_LINES:
                out.append(Function(path, node.name, "\n".join(lines[node.lineno - 1:end]), node.lineno, end))
    return sorted(out, key=lambda f: f.start)


def heldout_files(repo: Path, share: float) -> list[str]:
    """The Python files held out: the first `share` of them ordered by a hash of their path."""
    files = [f for f in _git(repo, "ls-files", "*.py").splitlines()
             if functions(f, (repo / f).read_text(errors="replace"))]
    if not files:
        raise SuiteInitError(f"--repo {repo} has no Python file with a function of {MIN_BODY_LINES}+ lines "
                             "to ask about")
    files.sort(key=lambda f: hashlib.sha256(f.encode()).hexdigest())
    return sorted(files[: max(1, math.ceil(share * len(files)))])


def masked(fn: Function) -> str:
    return re.sub(rf"\b{re.escape(fn.name)}\b", "____", fn.source)


def file_items(repo: Path, files: list[str], per_file: int) -> list[SuiteItem]:
    items = []
    for path in files:
        for fn in functions(path, (repo / path).read_text(errors="replace"))[:per_file]:
            prompt = (f"Here is a function from `{fn.path}` with its name replaced by ____:\n"
                      f"```python\n{masked(fn)}\n```\nWhat is the function's name?")
            items.append(SuiteItem(
                id=f"heldout_files-{len(items) + 1:03d}", category="heldout_files",
                messages=(PromptMessage(role="system", content=SYSTEM), PromptMessage(role="user", content=prompt)),
                scorer=ContainsSpec(type="contains", strings=(fn.name,)), reference=fn.source))
    return items


def _changed_lines(repo: Path, sha: str) -> dict[str, set[int]]:
    """Per Python file, the line numbers (in the new version) the commit added or changed."""
    out: dict[str, set[int]] = {}
    current = None
    for line in _git(repo, "show", "--unified=0", "--format=", sha, "--", "*.py").splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
        elif line.startswith("@@") and current:
            m = re.search(r"\+(\d+)(?:,(\d+))?", line)
            if m:
                start, count = int(m.group(1)), int(m.group(2) or 1)
                out.setdefault(current, set()).update(range(start, start + max(count, 1)))
    return out


def commit_items(repo: Path, commits: int, skip: set[str]) -> tuple[list[SuiteItem], list[str]]:
    items: list[SuiteItem] = []
    used = []
    for entry in _git(repo, "log", f"-{commits}", "--no-merges", "--format=%H%x00%s").splitlines():
        sha, _, subject = entry.partition("\x00")
        for path, lines in sorted(_changed_lines(repo, sha).items()):
            if path in skip:
                continue
            try:
                text = _git(repo, "show", f"{sha}:{path}")
            except subprocess.CalledProcessError:
                continue  # deleted by the commit
            touched = [fn for fn in functions(path, text) if lines & set(range(fn.start, fn.end + 1))]
            if not touched:
                continue
            fn = touched[0]
            prompt = (f"Commit {sha[:10]} of this repository, \"{subject}\", changed one function in `{path}`. "
                      "Which function? Answer with its name.")
            items.append(SuiteItem(
                id=f"recent_commits-{len(items) + 1:03d}", category="recent_commits",
                messages=(PromptMessage(role="system", content=SYSTEM), PromptMessage(role="user", content=prompt)),
                scorer=ContainsSpec(type="contains", strings=tuple(f.name for f in touched)), reference=fn.source))
            used.append(f"{sha[:10]} {subject}")
            break  # one prompt per commit
    return items, used


def write_specialists(out: Path, specialist: str) -> Path:
    """A copy of the loaded specialist file whose `specialist` evaluates on the new suite (every
    other suite path made absolute, so the copy works from where it is written)."""
    from shared.specialists import configured_path, specialists

    loaded = specialists()
    if specialist not in loaded:
        raise SuiteInitError(f"--specialist {specialist} is not in {configured_path()}: one of {list(loaded.names)}")
    raw = yaml.safe_load(configured_path().read_text(encoding="utf-8"))
    for name, entry in raw["specialists"].items():
        entry["suite"] = str(out.resolve()) if name == specialist else str(loaded.profiles[name].suite_dir)
    path = out / "specialists.yaml"
    path.write_text(f"# Written by `ouro suite init` from {configured_path()}: {specialist} evaluates on the suite in\n"
                    f"# this directory. Use it with OURO_SPECIALISTS={path.resolve()}\n"
                    + yaml.safe_dump(raw, sort_keys=False))
    return path


def suite_init(repo: Path, out: Path, *, specialist: str, commits: int = 5, share: float = 0.2,
               per_file: int = 10, force: bool = False) -> dict[str, object]:
    repo = repo.resolve()
    if not (repo / ".git").exists():
        raise SuiteInitError(f"--repo {repo} is not a git repository")
    if out.exists() and any(out.iterdir()) and not force:
        raise SuiteInitError(f"--out {out} is not empty: pass --force to write over it")
    if not 0 < share <= 1:
        raise SuiteInitError(f"--share {share} must be in (0, 1]")
    files = heldout_files(repo, share)
    by_file = file_items(repo, files, per_file)
    by_commit, used = commit_items(repo, commits, set(files))
    out.mkdir(parents=True, exist_ok=True)
    for category, items in (("heldout_files", by_file), ("recent_commits", by_commit)):
        path = out / f"{category}.jsonl"
        path.unlink(missing_ok=True)
        if items:
            path.write_text("".join(json.dumps(i.model_dump(mode="json", exclude_none=True)) + "\n" for i in items))
    specialists_file = write_specialists(out, specialist)
    head = _git(repo, "rev-parse", "HEAD").strip()
    (out / "HELDOUT.md").write_text(
        f"# Held-out suite for {repo.name} (at {head[:10]})\n\n"
        f"Written by `ouro suite init`. Edit the `.jsonl` files freely: one prompt per line, in the suite format\n"
        f"(shared/suites.py); `reference` is what the judge keeps out of training.\n\n"
        f"To use it: `export OURO_SPECIALISTS={specialists_file.resolve()}` (or `[loop] specialists` in ouro.toml).\n\n"
        f"## Files held out ({len(files)}, {len(by_file)} prompts)\n\n" + "".join(f"- {f}\n" for f in files)
        + f"\n## Newest commits asked about ({len(used)})\n\n" + "".join(f"- {c}\n" for c in used))
    return {"suite": str(out), "specialists": str(specialists_file), "heldout_files": files,
            "prompts": {"heldout_files": len(by_file), "recent_commits": len(by_commit)}, "commits": used}
