"""Commits of the repo → review pairs, edit instructions and commit-message writing.

Each commit is classified (bugfix | refactor | feature | test | docs | other) from its message
and the paths it touches; the class is counted and rides on each draft as a hint, so a bugfix
diff becomes debugging practice for the coder and a test commit test generation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, in_skipped_dir
from services.harvester.gitlog import Commit, FileDiff, read_commits

NAME = "git_diffs"
MAX_FILE_DIFF_CHARS = 12_000
MAX_COMMIT_DIFF_CHARS = 8_000
MAX_HUNKS_PER_COMMIT = 8
MAX_HUNK_LINES = 80

LOCK_FILES = {
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "poetry.lock", "uv.lock", "Pipfile.lock",
    "Cargo.lock", "go.sum", "composer.lock", "Gemfile.lock", "requirements.lock",
}
GENERATED_SUFFIXES = ("_pb2.py", "_pb2_grpc.py", ".min.js", ".min.css", ".map", ".lock", ".snap")
LANG = {".py": "python", ".md": "markdown", ".toml": "toml", ".yaml": "yaml", ".yml": "yaml",
        ".json": "json", ".js": "javascript", ".ts": "typescript", ".sh": "bash", ".rs": "rust",
        ".go": "go", ".sql": "sql", ".cfg": "ini", ".ini": "ini", ".txt": "text"}
_TRAILER = re.compile(r"^(?:Signed-off-by|Co-authored-by|Reviewed-by|Change-Id):.*$", re.IGNORECASE | re.MULTILINE)

_CLASS_WORDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("bugfix", re.compile(r"^(?:fix|bugfix|hotfix)(?:\(.*?\))?!?:|\b(?:fix(?:es|ed)?|bug|crash|regression|"
                          r"broken|off-by-one|race|leak|error|fail(?:s|ing|ure)?)\b", re.IGNORECASE)),
    ("refactor", re.compile(r"^refactor(?:\(.*?\))?!?:|\b(?:refactor\w*|rename|clean ?up|simplif\w*|"
                            r"restructur\w*|extract\w*|reorganiz\w*|move)\b", re.IGNORECASE)),
    ("test", re.compile(r"^test(?:s)?(?:\(.*?\))?!?:|\b(?:add(?:ed)? tests?|tests? for|coverage)\b", re.IGNORECASE)),
    ("docs", re.compile(r"^docs?(?:\(.*?\))?!?:|\b(?:readme|documentation|docstrings?|typo)\b", re.IGNORECASE)),
    ("feature", re.compile(r"^feat(?:ure)?(?:\(.*?\))?!?:|\b(?:add(?:s|ed)?|implement\w*|introduce\w*|support|"
                           r"new|allow\w*|enable\w*)\b", re.IGNORECASE)),
)


def is_test_path(path: str) -> bool:
    p = PurePosixPath(path)
    return "tests" in p.parts or "test" in p.parts or p.name.startswith("test_") or p.stem.endswith("_test")


def is_doc_path(path: str) -> bool:
    p = PurePosixPath(path)
    return p.suffix.lower() in (".md", ".rst", ".txt") or "docs" in p.parts


def classify(message: str, paths: list[str]) -> str:
    """bugfix | refactor | feature | test | docs | other, paths first (they cannot be worded loosely)."""
    if paths and all(is_test_path(p) for p in paths):
        return "test"
    if paths and all(is_doc_path(p) for p in paths):
        return "docs"
    subject = message.strip().splitlines()[0] if message.strip() else ""
    for label, pattern in _CLASS_WORDS:  # conventional-commit prefixes and words, in priority order
        if pattern.search(subject):
            return label
    return "other"


def skip_reason(f: FileDiff) -> str | None:
    p = PurePosixPath(f.path)
    if f.status in ("binary", "renamed", "deleted", "mode"):
        return f.status if f.status != "mode" else "mode_only"
    if p.name in LOCK_FILES or p.name.endswith(".lock"):
        return "lock_file"
    if in_skipped_dir(f.path) or p.name.endswith(GENERATED_SUFFIXES):
        return "vendored_or_generated"
    if "\ufffd" in f.patch:
        return "not_utf8"
    if len(f.patch) > MAX_FILE_DIFF_CHARS:
        return "diff_too_large"
    return None


def clean_message(message: str) -> str:
    return _TRAILER.sub("", message).strip()


def lang(path: str) -> str:
    return LANG.get(PurePosixPath(path).suffix.lower(), "")


def _range(repo: git.Repo, plan_since: str | None, ctx: Context) -> str:
    if plan_since is None:
        return "HEAD"
    try:
        # rev-parse --verify, not repo.commit(): GitPython trusts any 40-hex string without looking.
        since = repo.git.rev_parse("--verify", "--quiet", f"{plan_since}^{{commit}}").strip()
    except git.GitCommandError:
        # The watermark is gone (history rewritten, other repo): fall back to the last N commits.
        ctx.skips.add(NAME, "watermark_unknown")
        return "HEAD"
    return f"{since}..HEAD"


def commit_drafts(c: Commit, ctx: Context) -> Iterator[Draft]:
    kept: list[FileDiff] = []
    for f in c.files:
        if reason := skip_reason(f):
            ctx.skips.add(NAME, reason)
        else:
            kept.append(f)
    if not kept:
        return
    kind = classify(c.message, [f.path for f in c.files])
    ctx.commit_classes[kind] += 1
    message = clean_message(c.message)
    base = dict(generator=NAME, commit=c.sha, hint=kind)

    full = "\n".join(f.patch for f in kept)
    if len(full) <= MAX_COMMIT_DIFF_CHARS:
        yield Draft(task="commit_message", source=f"commit:{c.sha}", path=kept[0].path if len(kept) == 1 else None,
                    messages=(("user", f"Write a commit message for this diff:\n\n```diff\n{full}\n```"),
                              ("assistant", message)),
                    **base)
    else:
        ctx.skips.add(NAME, "commit_message_diff_too_large")

    hunks = 0
    for f in kept:
        stats = f"(+{f.added}/-{f.removed} lines in `{f.path}`)"
        if kind == "bugfix" and f.status == "modified":
            before = "\n\n".join(h.before for h in f.hunks)
            fix = "\n".join(h.text for h in f.hunks)
            yield Draft(task="diff_review", source=f"commit:{c.sha}", path=f.path,
                        messages=(("user", f"This code from `{f.path}` has a bug. What is wrong here?\n\n"
                                           f"```{lang(f.path)}\n{before}\n```"),
                                  ("assistant", f"{message}\n\nThe fix {stats}:\n```diff\n{fix}\n```")),
                        **base)
        else:
            yield Draft(task="diff_review", source=f"commit:{c.sha}", path=f.path,
                        messages=(("user", f"Review this change to `{f.path}`: what does it do and why?\n\n"
                                           f"```diff\n{f.patch}\n```"),
                                  ("assistant", f"This is a {kind} change {stats}. {message}")),
                        **base)
        for h in f.hunks:
            if f.status == "added" or not h.before.strip():
                continue  # nothing to edit from: new files teach writing, not editing
            if hunks >= MAX_HUNKS_PER_COMMIT:
                ctx.skips.add(NAME, "hunk_cap")
                continue
            if len(h.lines) > MAX_HUNK_LINES:
                ctx.skips.add(NAME, "hunk_too_large")
                continue
            hunks += 1
            fence = lang(f.path)
            where = f" near `{h.header}`" if h.header else ""
            yield Draft(task="diff_edit", source=f"commit:{c.sha}", path=f.path, lines=h.new_span,
                        messages=(("user", f"Apply this change to `{f.path}`{where}: {c.subject}\n\n"
                                           f"```{fence}\n{h.before}\n```"),
                                  ("assistant", f"```{fence}\n{h.after}\n```")),
                        **base)


class GitDiffs:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        root: Path | None = ctx.plan.repo
        if root is None:
            return
        repo = git.Repo(root)
        if not repo.head.is_valid():  # an empty repo: no commits yet
            return
        ctx.head_commit = repo.head.commit.hexsha
        rev = _range(repo, ctx.plan.since_commit, ctx)
        # Oldest first: the order a reader of the history would follow; deterministic either way.
        for c in reversed(read_commits(root, rev, ctx.plan.max_commits)):
            if len(c.parents) > 1:
                ctx.skips.add(NAME, "merge_commit")
                continue
            yield from commit_drafts(c, ctx)
