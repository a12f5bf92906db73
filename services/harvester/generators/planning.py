"""Goals and planning: a series of commits that built one feature, or a multi-step task in a
session → the plan, step by step, in the order the work was actually done.

A feature is found from the history itself, not guessed from words: it starts at a commit that
adds new (non-test) Python modules, and continues with the later commits, close behind it, that
change the files the series has added so far. A series of at least MIN_STEPS commits becomes one
plan: the goal is the first commit's subject, the prompt names the files involved, and each step is
one commit (its cleaned subject and the files it touched). From sessions, a conversation in which
the assistant called tools across several turns becomes the plan for its first request: one step
per call, in order, with its arguments, and each later request as the point where it continued.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, in_skipped_dir
from services.harvester.generators.affect import call_text, clip, conversations
from services.harvester.gitlog import Commit, read_commits
from services.harvester.session_formats import Conversation

NAME = "planning"
MIN_STEPS = 3
MAX_STEPS = 7
WINDOW = 15  # a continuation lies within this many commits of the last step
MAX_FILES_SHOWN = 12
MAX_NEW_MODULES = 6
MAX_STEP_FILES = 15
_TRAILER = re.compile(r"^(?:Signed-off-by|Co-authored-by|Reviewed-by|Change-Id):.*$", re.IGNORECASE | re.MULTILINE)
_PR_REF = re.compile(r"\s*\((?:#\d+|[\w.-]+/[\w.-]+#\d+)\)|\s+#\d+\b")
_BOT = re.compile(r"\[bot\]|dependabot|renovate|pre-commit-ci|github-actions", re.IGNORECASE)


def subject(c: Commit) -> str:
    return _PR_REF.sub("", _TRAILER.sub("", c.subject)).strip()


def touched(c: Commit) -> set[str]:
    return {f.path for f in c.files if not in_skipped_dir(f.path) and f.status != "binary"}


def new_modules(c: Commit) -> set[str]:
    return {f.path for f in c.files if f.status == "added" and f.path.endswith(".py") and not in_skipped_dir(f.path)
            and not PurePosixPath(f.path).name.startswith("test_") and PurePosixPath(f.path).name != "__init__.py"}


def _py_added(c: Commit) -> set[str]:
    """The Python files a commit created: what later steps of the same feature come back to."""
    return {f.path for f in c.files if f.status == "added" and f.path.endswith(".py") and not in_skipped_dir(f.path)}


def feature_series(commits: list[Commit]) -> list[list[Commit]]:
    """Series of commits (oldest first) that built one feature: a start adding modules, then the
    commits within WINDOW that change what the series added. A commit belongs to one series."""
    used: set[str] = set()
    series: list[list[Commit]] = []
    for i, start in enumerate(commits):
        if start.sha in used or not 0 < len(new_modules(start)) <= MAX_NEW_MODULES or _BOT.search(start.author or "") \
                or len(touched(start)) > MAX_STEP_FILES:
            continue  # a commit that adds half a codebase is a dump, not a feature's first step
        owned = _py_added(start)
        steps, last = [start], i
        for j in range(i + 1, len(commits)):
            if j - last > WINDOW or len(steps) == MAX_STEPS:
                break
            c = commits[j]
            if c.sha in used or len(c.parents) > 1 or len(touched(c)) > MAX_STEP_FILES or not (touched(c) & owned):
                continue
            steps.append(c)
            owned |= _py_added(c)
            last = j
        if len(steps) >= MIN_STEPS:
            used.update(c.sha for c in steps)
            series.append(steps)
    return series


def _files(paths: set[str]) -> str:
    shown = sorted(paths)[:MAX_FILES_SHOWN]
    more = f" and {len(paths) - len(shown)} more" if len(paths) > len(shown) else ""
    return ", ".join(f"`{p}`" for p in shown) + more


def series_draft(steps: list[Commit]) -> Draft:
    goal = subject(steps[0])
    involved = set().union(*(touched(c) for c in steps))
    prompt = (f"Plan the work, step by step, in the order you would do it.\n\nGoal: {goal}\n\n"
              f"Files involved: {_files(involved)}")
    lines = []
    for n, c in enumerate(steps, 1):
        added = sorted(f.path for f in c.files if f.status == "added" and f.path in involved)
        changed = sorted(touched(c) - set(added))
        what = "; ".join(x for x in (f"create {_files(set(added))}" if added else "",
                                     f"change {_files(set(changed))}" if changed else "") if x)
        lines.append(f"{n}. {subject(c)} ({what}).")
    tests = sorted(p for p in involved if "test" in PurePosixPath(p).name)
    done = f"\n\nDone when the tests in {_files(set(tests))} pass." if tests else ""
    answer = (f"The goal first, then {len(steps) - 1} follow-up steps, each one commit that builds on the last:\n\n"
              + "\n".join(lines) + done)
    return Draft(generator=NAME, task="plan_feature", messages=(("user", prompt), ("assistant", answer)),
                 source=steps[0].sha, commit=steps[-1].sha)


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
            # the whole window of history, not only what is new: a feature's start may predate the watermark
            commits = list(reversed(read_commits(root, "HEAD", ctx.plan.max_commits)))
            for steps in feature_series(commits):
                yield series_draft(steps)
        for conv in conversations(ctx, NAME):
            if (d := session_draft(conv)) is not None:
                yield d
            elif len(conv.turns) > 1:
                ctx.skips.add(NAME, "session_without_multistep_task")
