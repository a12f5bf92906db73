"""Goals and planning: a series of commits that made one change, or a multi-step task in a
session → the plan, step by step, in the order the work was actually done.

A change is found from the code, not guessed from words: a series starts at a commit whose
source files gained, lost or changed public definitions (functions, classes, methods, instance
attributes: planning_changes compares the AST before and after), a focused commit rather than a
sweep over the package. It continues with the later commits, close behind it, that come back to
the same definitions, mention the names it added, change the files it created, or (just before
it) wrote the failing test for its module. A series becomes a plan when it changed source and
also its tests, docs or changelog, in at least MIN_STEPS steps: one step per file a commit
touched, source before tests before docs before the changelog within a commit, commits in their
order. The prompt shows the goal (the start's subject), the files and the definitions involved;
the answer says which file gets which definition added, changed or removed, which tests, docs and
changelog follow, and how the steps were grouped into commits. Bot commits, version bumps,
docs-only and sweeping commits are skipped and counted.

From sessions, a conversation in which the assistant called tools across several turns becomes
the plan for its first request: one step per call, in order, with its arguments, and each later
request as the point where it continued.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, Skips
from services.harvester.generators.affect import call_text, clip, conversations
from services.harvester.generators.planning_changes import Change, FileChange, public, read_change
from services.harvester.gitlog import Commit, read_commits
from services.harvester.session_formats import Conversation

NAME = "planning"
MIN_STEPS = 3  # steps (a file's part in one commit): source + its test + a changelog entry at least
MAX_STEPS = 7  # commits in one series
MAX_PLAN_STEPS = 12  # file steps in one answer: more is a list, not a plan
WINDOW = 15  # a continuation lies within this many commits of the last step
MAX_FILES_SHOWN = 12
MAX_NAMES_SHOWN = 4  # per kind of change in one step
MAX_STEP_FILES = 15
MAX_SOURCE_FILES = 3  # a start changing more source files is a sweep (pyupgrade, typing), not one change
MAX_API = 8  # public definitions a start may touch
HISTORY = 2  # planning reads this many times the harvest's max_commits of history
MIN_WORD = 4  # a shorter added name ("get", "key") matches too many unrelated diffs
_ROLE_ORDER = {"source": 0, "test": 1, "docs": 2, "changelog": 3, "other": 4}
_TRAILER = re.compile(r"^(?:Signed-off-by|Co-authored-by|Reviewed-by|Change-Id):.*$", re.IGNORECASE | re.MULTILINE)
_PR_REF = re.compile(r"\s*\((?:#\d+|[\w.-]+/[\w.-]+#\d+)\)|\s+#\d+\b|,?\s*(?:closes|fixes|close|fix)\s+(?:pr\s+)?#\d+",
                     re.IGNORECASE)
_BOT = re.compile(r"\[bot\]|dependabot|renovate|pre-commit-ci|github-actions", re.IGNORECASE)
# "release version 2.0.1", "start version 2.1.0.dev0", "This is 0.24", "Bump to 0.10", "bump version"
_VERSION_BUMP = re.compile(r"^(?:(?:release|prerelease|pre-release|start|bump)\b.*\bversion\b|this is \d|bump to \d"
                           r"|current version is|version \d|v?\d+\.\d+(?:\.\d+)*$)", re.IGNORECASE)
_IMPORT = re.compile(r"^\s*(?:from\s+\S+\s+)?import\b")
_IMPORT_TAIL = re.compile(r"^\s+[\w.]+(?:\s+as\s+\w+)?,?\s*$|^\s*\)\s*$|^\s*#")  # a wrapped import's names
_REVERT = re.compile(r'^Revert "(.*)"$')
_VERSION_LINE = re.compile(r"__version__|^\s*version\s*[=:]", re.IGNORECASE)


def subject(c: Commit) -> str:
    return _PR_REF.sub("", _TRAILER.sub("", c.subject)).strip()


def is_version_bump(c: Commit) -> bool:
    """A release commit: its subject says so, or every changed code line is a version string."""
    code = [ln for f in c.files if f.path.endswith(".py") for h in f.hunks for ln in h.lines if ln[:1] in "+-"
            and ln[1:].strip()]
    return bool(_VERSION_BUMP.match(subject(c))) or (bool(code) and all(_VERSION_LINE.search(ln[1:]) for ln in code))


@dataclass
class Series:
    steps: list[Change]
    names: set[str] = field(default_factory=set)  # qualified source definitions it touched
    words: set[str] = field(default_factory=set)  # names it added or removed, as a later diff spells them
    created: set[str] = field(default_factory=set)

    def take(self, ch: Change) -> None:
        for f in ch.of("source"):
            self.names.update(q for q in (*f.added, *f.removed) if public(q))
            self.words.update(w for w in f.fresh if len(w) >= MIN_WORD)
        self.created.update(f.path for f in ch.files if f.status == "added")

    def related(self, f: FileChange) -> bool:
        """Does this file's change carry on the series: a file it created, a definition it added or
        removed, or a diff line naming one? (A definition it only changed is no link: a mature
        library's `unsign` is changed by many unrelated fixes.)"""
        return f.path in self.created or bool(f.words & self.words) or any(
            q in self.names for q in (*f.added, *f.removed, *f.changed)) or any(
            w in q for q in f.added for w in self.words)  # `test_secret_keys` tests `secret_keys`

    def wants(self, ch: Change) -> bool:
        """Most of `ch` carries on this change: a commit that reorganises all the docs and also
        mentions the new name once is its own work, not this series' next step."""
        return 2 * sum(self.related(f) for f in ch.files) >= len(ch.files)

    def modules(self) -> set[str]:
        return {PurePosixPath(f.path).stem for ch in self.steps for f in ch.of("source")}


def start_skip(ch: Change) -> str | None:
    """Why `ch` cannot start a change worth planning, or None when it can."""
    c = ch.commit
    if _BOT.search(c.author or ""):
        return "bot_author"
    if is_version_bump(c):
        return "version_bump"
    if not ch.of("source"):
        return "docs_only" if ch.of("docs", "changelog") and not ch.of("test", "other") else "no_source"
    code = [f for f in ch.of("source", "test") if not f.same_code]
    if len(ch.of("docs")) > len(code):
        return "docs_only"  # a docs rework that touches a line of code on the way
    if len(ch.of("other")) > len(code):
        return "mostly_config"  # tooling (style checks, packaging) that fixes a line of code on the way
    if len(ch.files) > MAX_STEP_FILES or len(ch.of("source")) > MAX_SOURCE_FILES or len(ch.api) > MAX_API:
        return "sweep"
    return None if ch.api else "no_api_change"


def _continues(ch: Change) -> bool:
    c = ch.commit
    return not (_BOT.search(c.author or "") or is_version_bump(c) or len(ch.files) > MAX_STEP_FILES
                or len(ch.of("source")) > MAX_SOURCE_FILES or _REVERT.match(c.subject))


def tests_of_series(ch: Change, series: Series) -> bool:
    """`ch` only wrote tests, each in the test module of a module the series changed (test_timed.py
    for timed.py): right before the start, the failing test the change made pass; right after
    the last step, the tests written for it."""
    tests = ch.of("test")
    return bool(tests) and len(tests) == len(ch.files) and _continues(ch) and all(
        PurePosixPath(f.path).stem.removeprefix("test_").removesuffix("_test") in series.modules()
        and (f.added or f.changed) for f in tests)


def feature_series(changes: list[Change | None], skips: Skips | None = None) -> list[Series]:
    """Series of changes (oldest first; None marks a merge or a commit outside the code) that made
    one change. A commit belongs to one series. Each start that fails is counted in `skips`."""
    used: set[int] = set()
    found: list[Series] = []
    reverted = {m.group(1) for ch in changes if ch is not None and (m := _REVERT.match(ch.commit.subject))}
    for i, start in enumerate(changes):
        if start is None or i in used:
            continue
        reason = "reverted" if start.commit.subject in reverted else start_skip(start)
        if reason is not None:
            if reason not in ("no_source", "no_api_change") and skips is not None:
                skips.add(NAME, reason)  # only what looked like a change: not every README commit
            continue
        s = Series([start])
        s.take(start)
        taken, last = [i], i
        for j in range(i + 1, len(changes)):
            if j - last > WINDOW or len(s.steps) == MAX_STEPS:
                break
            ch = changes[j]
            if ch is not None and is_version_bump(ch.commit):
                break  # a release closes the work on a change; what follows belongs to the next one
            if ch is None or j in used or not _continues(ch):
                continue
            next_up = all(changes[k] is None for k in range(last + 1, j))
            if not (s.wants(ch) or next_up and tests_of_series(ch, s)):
                continue
            s.steps.append(ch)
            s.take(ch)
            taken.append(j)
            last = j
        prev = next((k for k in range(i - 1, max(i - 3, -1), -1) if changes[k] is not None), None)
        before = changes[prev] if prev is not None and prev not in used else None
        if prev is not None and before is not None and tests_of_series(before, s):
            s.steps.insert(0, before)
            taken.insert(0, prev)
        roles = {f.role for ch in s.steps for f in ch.files}
        n_steps = sum(len(ch.files) for ch in s.steps)
        if not roles & {"test", "docs", "changelog"}:
            if skips is not None:
                skips.add(NAME, "no_tests_or_docs")
            continue
        if n_steps < MIN_STEPS or n_steps > MAX_PLAN_STEPS:
            if skips is not None:
                skips.add(NAME, "too_few_steps" if n_steps < MIN_STEPS else "too_many_steps")
            continue
        used.update(taken)
        found.append(s)
    return found


def _code(names: list[str], used: set[str]) -> str:
    """At most MAX_NAMES_SHOWN names, each recorded in `used`: the prompt shows every name the
    answer uses, and only those."""
    shown = names[:MAX_NAMES_SHOWN]
    used.update(shown)
    more = f" and {len(names) - len(shown)} more" if len(names) > len(shown) else ""
    return ", ".join(f"`{n}`" for n in shown) + more


def _files(paths: set[str]) -> str:
    shown = sorted(paths)[:MAX_FILES_SHOWN]
    more = f" and {len(paths) - len(shown)} more" if len(paths) > len(shown) else ""
    return ", ".join(f"`{p}`" for p in shown) + more


def _shown_defs(f: FileChange) -> tuple[list[str], list[str], list[str]]:
    """The definitions a file gained, lost and changed (a private helper too: where the work went)."""
    def keep(q: str) -> bool:
        return not q.rsplit(".", 1)[-1].startswith("__") or public(q)
    return ([q for q in f.added if keep(q)], [q for q in f.removed if keep(q)], [q for q in f.changed if keep(q)])


def _unnamed(f: FileChange) -> str:
    """A change to no named definition: what its lines show."""
    if f.same_code:
        return "update its comments and docstrings"
    if any(_IMPORT.match(ln) for ln in f.lines) and all(_IMPORT.match(ln) or _IMPORT_TAIL.match(ln) for ln in f.lines):
        return "update its imports"
    return "change the tests' shared code" if f.role == "test" else "change module-level code"


def step_text(f: FileChange, new_names: set[str], used: set[str]) -> str:
    """One file's part in a commit, from what the commit did to it."""
    added, removed, changed = _shown_defs(f)
    if f.status == "deleted":
        return f"Delete `{f.path}`"
    if f.role in ("source", "test"):
        verb = "Create" if f.status == "added" else "In"
        tests = [q for q in added if q.rsplit(".", 1)[-1].startswith("test")]
        helpers = [q for q in added if q not in tests]
        parts = [f"add the test{'s' if len(tests) > 1 else ''} {_code(tests, used)}" if tests else "",
                 f"add {_code(helpers, used)}" if helpers else "",
                 f"change {_code(changed, used)}" if changed else "",
                 f"remove {_code(removed, used)}" if removed else ""]
        what = "; ".join(p for p in parts if p) or _unnamed(f)
        return f"{verb} `{f.path}`, {what}" if verb == "In" else f"Create `{f.path}` and {what}"
    named = sorted(q for q in new_names if q.rsplit(".", 1)[-1] in f.words)
    if f.role == "docs":
        return f"Document {_code(named, used)} in `{f.path}`" if named else f"Update the docs in `{f.path}`"
    if f.role == "changelog":
        return f"Add a changelog entry for {_code(named, used)} to `{f.path}`" if named else \
            f"Add a changelog entry to `{f.path}`"
    return f"Update `{f.path}`"


def series_draft(s: Series) -> Draft:
    goal = subject(next(ch.commit for ch in s.steps if ch.of("source")))  # not the failing test before it
    files = {f.path for ch in s.steps for f in ch.files}
    new_names = {q for ch in s.steps for f in ch.of("source") for q in f.added if public(q)}
    lines: list[str] = []
    groups: list[tuple[int, int]] = []
    used: set[str] = set()
    for ch in s.steps:
        first = len(lines) + 1
        for f in sorted(ch.files, key=lambda f: (_ROLE_ORDER[f.role], f.path)):
            lines.append(f"{len(lines) + 1}. {step_text(f, new_names, used)}.")
        groups.append((first, len(lines)))
    code = f"\n\nCode involved: {', '.join(f'`{q}`' for q in sorted(used))}" if used else ""
    prompt = (f"Plan the work, step by step, in the order you would do it.\n\nGoal: {goal}\n\n"
              f"Files involved: {_files(files)}{code}")
    spans = [f"{a}" if a == b else f"{a}-{b}" for a, b in groups]
    if len(groups) == 1:
        shape = f"All {len(lines)} steps went in as one commit."
    else:
        shape = f"The steps went in as {len(groups)} commits, in this order: steps {', then '.join(spans)}."
    tests = sorted({f.path for ch in s.steps for f in ch.of("test")})
    done = f" Done when the tests in {_files(set(tests))} pass." if tests else ""
    answer = "\n".join(lines) + "\n\n" + shape + done
    return Draft(generator=NAME, task="plan_feature", messages=(("user", prompt), ("assistant", answer)),
                 source=s.steps[0].commit.sha, commit=s.steps[-1].commit.sha)


def session_draft(conv: Conversation) -> Draft | None:
    """A conversation whose assistant called tools in several turns → the plan for its first request."""
    turns = [t for t in conv.turns if t.error is None]
    if len([t for t in turns if t.tool_calls]) < 2:
        return None
    first = turns[0]
    tools = sorted({c.name for t in turns for c in t.tool_calls})
    prompt = (f"Plan how you would handle this request, step by step, with the tools you have "
              f"({', '.join(f'`{t}`' for t in tools)}).\n\nRequest: {clip(first.user, 400)}")
    lines, n = [], 0
    for k, t in enumerate(turns):
        if k > 0:
            lines.append(f"   (then the operator asks: \"{clip(t.user, 200)}\")")
        for c in t.tool_calls:
            n += 1
            lines.append(f"{n}. Call {call_text(c)}.")
    return Draft(generator=NAME, task="plan_session", source=conv.source, session_id=conv.session_id,
                 messages=(("user", prompt), ("assistant", "\n".join(lines))))


class Planning:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        root: Path | None = ctx.plan.repo
        if root is not None and git.Repo(root).head.is_valid():
            # the whole window of history, not only what is new: a feature's start may predate the
            # watermark. HISTORY times the window: a change worth planning is rare (itsdangerous: 9
            # in its last 500 commits, 5 more in the 177 before), and one `git log -p` reads them.
            repo = git.Repo(root)
            commits = list(reversed(read_commits(root, "HEAD", HISTORY * ctx.plan.max_commits)))
            # a root commit imports a codebase rather than changing one; a merge repeats its branch
            changes = [read_change(repo, c, with_code=len(c.files) <= MAX_STEP_FILES)
                       if len(c.parents) == 1 and c.files else None for c in commits]
            for s in feature_series(changes, ctx.skips):
                yield series_draft(s)
        for conv in conversations(ctx, NAME):
            if (d := session_draft(conv)) is not None:
                yield d
            elif len(conv.turns) > 1:
                ctx.skips.add(NAME, "session_without_multistep_task")
