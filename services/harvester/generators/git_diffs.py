"""Commits of the repo → one review per commit, edit instructions and commit-message writing.

Each commit is classified (bugfix | refactor | feature | test | docs | release | other) from its
message and the paths it touches; the class is counted and rides on each draft as a hint, so a
bugfix diff becomes debugging practice for the coder and a test commit test generation.

A commit teaches once: one review per commit (or per coherent group of files when the diff is too
large for one prompt), written from the diff by git_diffs_review, with the message quoted as the
stated reason and the findings of git_diffs_findings (checked against the tree at the commit). Bot
commits and commits that only move pins (lock, requirements, CI versions) teach stating versions the
model cannot see, so they are skipped and counted. A commit trivial to review (a version bump, a
changelog entry, a link, whitespace, comments, annotations or docstrings only) or one with no
concrete finding gets no review; an edit is drafted only when every literal it adds (number, URL,
string, issue ref, identifier) is in its prompt, so the answer never invents one. Each skip counted.
"""

from __future__ import annotations

import builtins
import keyword
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, in_skipped_dir
from services.harvester.generators.git_diffs_code import trivial_kind
from services.harvester.generators.git_diffs_findings import Tree, findings, is_changelog, is_test_path
from services.harvester.generators.git_diffs_review import analyse, review_answer
from services.harvester.gitlog import Commit, FileDiff, commit_range, read_commits

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
_TRAILER = re.compile(r"^(?:(?:Signed-off-by|Co-authored-by|Reviewed-by|Change-Id):.*|Committed via \S+)$",
                      re.IGNORECASE | re.MULTILINE)
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

# Trivial for review, least to most code-like: a commit is named by the most code-like kind it has.
TRIVIAL_KINDS = ("version_bump", "changelog_only", "docs_links_only", "whitespace_only", "comment_only",
                 "annotation_only", "docstring_only")
NO_EDIT_KINDS = TRIVIAL_KINDS[:4]
CODE_SUFFIXES = {".py", ".pyi", ".js", ".ts", ".tsx", ".jsx", ".rs", ".go", ".sh", ".sql", ".c", ".h", ".cc", ".cpp",
                 ".java", ".rb"}  # their edits restate the instruction (a version) or change nothing
_VERSION_LINE = re.compile(r"""^\s*(?:__version__|version|release)\s*[:=]\s*["']?v?\d[\w.+-]*["']?,?\s*$""",
                           re.IGNORECASE)
_LINK = re.compile(r"https?://[^\s)>`\]]+|<[^<>\s]*>|\]\([^)]*\)")
# What an edit may add only if the prompt shows it: URLs, :issue: refs, #N, quoted strings, numbers, names.
_LITERAL = re.compile(r"""https?://[^\s)>"'`\]]+|:\w+:`[^`]+`|#\d+\b|"[^"\n]*"|'[^'\n]*'|\b\d[\w.]*|[A-Za-z_]\w*""")
_KNOWN = set(dir(builtins)) | set(keyword.kwlist) | {"self", "cls"}

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


def file_trivial_kind(f: FileDiff, tree: Tree) -> str | None:
    """Why this file's change says nothing to review, or None."""
    if is_changelog(f.path):
        return "changelog_only"
    minus = [ln[1:] for h in f.hunks for ln in h.lines if ln.startswith("-")]
    plus = [ln[1:] for h in f.hunks for ln in h.lines if ln.startswith("+")]
    if any(_VERSION_LINE.match(ln) for ln in minus + plus) and \
            all(_VERSION_LINE.match(ln) or not ln.strip() for ln in minus + plus):
        return "version_bump"
    if "".join("".join(minus).split()) == "".join("".join(plus).split()):
        return "whitespace_only"
    if is_doc_path(f.path) and [_LINK.sub("", ln) for ln in minus] == [_LINK.sub("", ln) for ln in plus]:
        return "docs_links_only"
    if f.path.endswith(".py") and f.status == "modified":
        old, new = tree.read(f.path, parent=True), tree.read(f.path)
        if old is not None and new is not None:
            return trivial_kind(old, new)
    return None


def commit_trivial_kind(kind: str, files: list[FileDiff], tree: Tree) -> str | None:
    if kind == "release":
        return "version_bump"
    kinds = [file_trivial_kind(f, tree) for f in files]
    if not kinds or None in kinds:
        return None
    return max(kinds, key=TRIVIAL_KINDS.index)


def unsupported_literals(added: list[str], prompt: str) -> list[str]:
    """The literals the added lines bring that the prompt does not show (so an answer would invent them)."""
    words = set(re.findall(r"\w+", prompt))
    out = []
    for ln in added:
        for tok in _LITERAL.findall(ln):
            ident = tok[0].isalpha() or tok[0] == "_"
            if (ident and tok not in words and tok not in _KNOWN) or (not ident and tok not in prompt):
                out.append(tok)
    return out


def lang(path: str) -> str:
    return LANG.get(PurePosixPath(path).suffix.lower(), "")


def _range(repo: git.Repo, plan_since: str | None, ctx: Context) -> str:
    rev, unknown = commit_range(repo, plan_since)
    if unknown:
        ctx.skips.add(NAME, "watermark_unknown")
    return rev


def commit_drafts(c: Commit, ctx: Context, repo: git.Repo) -> Iterator[Draft]:
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

    tree = Tree(repo, c.sha)
    trivial = commit_trivial_kind(kind, kept, tree)
    yield from _reviews(c, ctx, kept, tree, message, base, trivial)
    yield from _edits(c, ctx, kept, message, base, trivial)


def _reviews(c: Commit, ctx: Context, kept: list[FileDiff], tree: Tree, message: str, base: dict,
             trivial: str | None) -> Iterator[Draft]:
    if trivial:
        ctx.skips.add(NAME, f"review_{trivial}")
        return
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
        tree.cited = []
        found, changed = findings(group, tree)
        if not found:  # generic prose teaches nothing: a review needs a fact a reviewer would miss
            ctx.skips.add(NAME, "review_no_finding")
            continue
        answer = review_answer([analyse(f) for f in group], found, message, changed, part=len(groups) > 1)
        # a reviewer has the repository: the lines the findings cite are shown (the answer invents none)
        cited = sorted(tree.cited, key=lambda r: (r.path, r.line))
        lines = "".join(f"\n{r.path}:{r.line}: {r.text.strip()}" for r in cited)
        context = f"\n\nLines in the repository at this commit that use names this diff touches:{lines}" \
            if lines else ""
        # a deleted file's diff is not shown (skipped above), yet a finding may name it: say it is gone
        gone = [p for p in tree.deleted_named if p in answer]
        context += f"\n\nFiles this commit deletes (diff not shown): {', '.join(gone)}" if gone else ""
        yield Draft(task="diff_review", source=f"commit:{c.sha}", path=group[0].path if len(group) == 1 else None,
                    messages=(("user", f"Review this commit{part}: what does it change, why, and what should a "
                                       f"reviewer check?\n\nThe author's message:\n{quoted}\n\n```diff\n{diff}\n```"
                                       f"{context}"),
                              ("assistant", answer)),
                    **base)


def _edits(c: Commit, ctx: Context, kept: list[FileDiff], message: str, base: dict,
           trivial: str | None) -> Iterator[Draft]:
    if trivial in NO_EDIT_KINDS:
        ctx.skips.add(NAME, f"edit_{trivial}")
        return
    subject = message.splitlines()[0] if message else c.subject
    hunks = 0
    for f in kept:
        for h in f.hunks:
            if f.status == "added" or not h.before.strip():
                continue  # nothing to edit from: new files teach writing, not editing
            if is_doc_path(f.path) or is_changelog(f.path):
                ctx.skips.add(NAME, "edit_docs")  # new prose cannot be derived from a one-line instruction
                continue
            if PurePosixPath(f.path).suffix.lower() not in CODE_SUFFIXES:
                # CI, packaging and tool config: which step or key a message means is a guess
                ctx.skips.add(NAME, "edit_config")
                continue
            if hunks >= MAX_HUNKS_PER_COMMIT:
                ctx.skips.add(NAME, "hunk_cap")
                continue
            if len(h.lines) > MAX_HUNK_LINES:
                ctx.skips.add(NAME, "hunk_too_large")
                continue
            fence = lang(f.path)
            where = f" near `{h.header}`" if h.header else ""
            prompt = f"Apply this change to `{f.path}`{where}: {subject}\n\n```{fence}\n{h.before}\n```"
            if unsupported_literals([ln[1:] for ln in h.lines if ln.startswith("+")], prompt):
                ctx.skips.add(NAME, "edit_unsupported_literal")
                continue
            hunks += 1
            yield Draft(task="diff_edit", source=f"commit:{c.sha}", path=f.path, lines=h.new_span,
                        messages=(("user", prompt),
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
            yield from commit_drafts(c, ctx, repo)
