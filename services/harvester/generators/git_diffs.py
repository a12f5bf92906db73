"""Commits of the repo → one review per commit, edit instructions and commit-message writing.

Each commit is classified (bugfix | refactor | feature | test | docs | release | other) from its
message and the paths it touches; the class is counted and rides on each draft as a hint, so a
bugfix diff becomes debugging practice for the coder and a test commit test generation.

A commit teaches once: one review per commit (or per coherent group of files when the diff is too
large for one prompt), written from the diff by git_diffs_review, with the message quoted as the
stated reason. Bot commits and commits that only move pins (lock, requirements, CI versions) teach
stating versions the model cannot see, so they are skipped and counted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, in_skipped_dir
from services.harvester.generators.git_diffs_review import analyse, is_test_path, review_answer
from services.harvester.gitlog import Commit, FileDiff, read_commits

NAME = "git_diffs"
MAX_FILE_DIFF_CHARS = 12_000
MAX_COMMIT_DIFF_CHARS = 8_000
MAX_HUNKS_PER_COMMIT = 4
MAX_REVIEW_GROUPS = 3  # a huge commit yields at most this many reviews of coherent file groups
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
# PR / issue references a forge appends ("(#123)", "Closes #45"): facts the diff cannot show.
_PR_REF = re.compile(r"\s*\((?:#|GH-)\d+\)|^(?:(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?|refs?|see)\s+#\d+\.?\s*)+$",
                     re.IGNORECASE | re.MULTILINE)
# Automated authors: their commits are pin bumps and formatting, stating versions and SHAs.
_BOT_AUTHOR = re.compile(r"\[bot\]|\bbot@|dependabot|pre-commit-ci|renovate|github-actions|greenkeeper|snyk-bot|"
                         r"pyup|imgbot|allcontributors|mergify|codecov", re.IGNORECASE)
# Files whose change is a version pin: lock files, requirements/constraints, CI and hook pins.
_PIN_FILE = re.compile(r"(?:^|/)(?:requirements[^/]*\.(?:txt|in)|constraints[^/]*\.txt|requirements/[^/]+|"
                       r"\.pre-commit-config\.ya?ml|\.github/(?:workflows/[^/]+|dependabot\.ya?ml)|"
                       r"renovate\.json5?|\.gitlab-ci\.yml|tox\.ini|noxfile\.py|\.readthedocs\.ya?ml)$")
_RELEASE = re.compile(r"^(?:release|bump|chore\(release\))\b|\b(?:bump(?:ed)? (?:the )?version|version bump|"
                      r"release v?\d|prepare (?:for )?release|v?\d+\.\d+(?:\.\d+)?(?:rc\d+)?$)", re.IGNORECASE)

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


def is_doc_path(path: str) -> bool:
    p = PurePosixPath(path)
    return p.suffix.lower() in (".md", ".rst", ".txt") or "docs" in p.parts


def classify(message: str, paths: list[str]) -> str:
    """bugfix | refactor | feature | test | docs | release | other, paths first (they cannot be worded
    loosely), except a version bump: it touches a changelog or docs/conf.py but documents nothing."""
    subject = message.strip().splitlines()[0] if message.strip() else ""
    if _RELEASE.search(subject):
        return "release"
    if paths and all(is_test_path(p) for p in paths):
        return "test"
    if paths and all(is_doc_path(p) for p in paths):
        return "docs"
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
    """The message without trailers and forge PR/issue references (the diff cannot show those)."""
    return _PR_REF.sub("", _TRAILER.sub("", message)).strip()


def is_bot(author: str) -> bool:
    return bool(_BOT_AUTHOR.search(author))


def is_pin_path(path: str) -> bool:
    p = PurePosixPath(path)
    return p.name in LOCK_FILES or p.name.endswith(".lock") or bool(_PIN_FILE.search(path))


def commit_skip_reason(c: Commit) -> str | None:
    """Why a whole commit teaches nothing: an automated author, or only pins moved."""
    if is_bot(c.author):
        return "bot_author"
    if c.files and all(is_pin_path(f.path) for f in c.files):
        return "pins_only"
    return None


def _area(path: str) -> str:
    """The package a file belongs to, for grouping: its first two directories (`services/judge`)."""
    parts = PurePosixPath(path).parts[:-1]
    return "/".join(parts[:2]) if parts else "."


def review_groups(files: list[FileDiff]) -> list[list[FileDiff]]:
    """The commit's files in coherent groups that each fit one prompt: all of them when they fit,
    else one group per package area (`services/judge`, `tests`), neighbouring areas packed
    together while they fit; a single file over the limit is left out."""
    if sum(len(f.patch) for f in files) <= MAX_COMMIT_DIFF_CHARS:
        return [files]
    areas: dict[str, list[FileDiff]] = {}
    for f in sorted(files, key=lambda f: f.path):
        if len(f.patch) <= MAX_COMMIT_DIFF_CHARS:
            areas.setdefault(_area(f.path), []).append(f)
    groups: list[list[FileDiff]] = []
    for area_files in areas.values():
        chunk: list[FileDiff] = []
        for f in area_files:  # an area too big for one prompt is split, in path order
            if chunk and sum(len(x.patch) for x in chunk) + len(f.patch) > MAX_COMMIT_DIFF_CHARS:
                groups.append(chunk)
                chunk = []
            chunk.append(f)
        if groups and _area(groups[-1][0].path) != _area(chunk[0].path) and \
                sum(len(x.patch) for x in groups[-1] + chunk) <= MAX_COMMIT_DIFF_CHARS:
            groups[-1].extend(chunk)  # small neighbouring areas share a review
        else:
            groups.append(chunk)
    return groups


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
    if reason := commit_skip_reason(c):
        ctx.skips.add(NAME, reason)
        return
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
    if len(full) > MAX_COMMIT_DIFF_CHARS:
        ctx.skips.add(NAME, "commit_message_diff_too_large")
    elif len(message.split()) < 3:
        ctx.skips.add(NAME, "commit_message_too_short")  # "wip", "fix": nothing to learn to write
    else:
        yield Draft(task="commit_message", source=f"commit:{c.sha}", path=kept[0].path if len(kept) == 1 else None,
                    messages=(("user", f"Write a commit message for this diff:\n\n```diff\n{full}\n```"),
                              ("assistant", message)),
                    **base)

    groups = review_groups(kept)
    if len(groups) > MAX_REVIEW_GROUPS:
        ctx.skips.add(NAME, "review_group_cap", len(groups) - MAX_REVIEW_GROUPS)
    if not groups:
        ctx.skips.add(NAME, "diff_too_large")
    quoted = "\n".join(f"> {ln}" if ln else ">" for ln in message.splitlines()) or "> (no message)"
    for i, group in enumerate(groups[:MAX_REVIEW_GROUPS]):
        where = ", ".join(f"`{a}`" for a in dict.fromkeys(_area(f.path) for f in group))
        part = f" (part {i + 1} of {len(groups)}: the files under {where})" if len(groups) > 1 else ""
        diff = "\n".join(f.patch for f in group)
        answer = review_answer([analyse(f) for f in group], message, kind, part=len(groups) > 1)
        yield Draft(task="diff_review", source=f"commit:{c.sha}", path=group[0].path if len(group) == 1 else None,
                    messages=(("user", f"Review this commit{part}: what does it change, why, and what should a "
                                       f"reviewer check?\n\nThe author's message:\n{quoted}\n\n```diff\n{diff}\n```"),
                              ("assistant", answer)),
                    **base)

    subject = message.splitlines()[0] if message else c.subject
    hunks = 0
    for f in kept:
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
                        messages=(("user", f"Apply this change to `{f.path}`{where}: {subject}\n\n"
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
