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
order. The prompt shows the goal (the start's subject), the files and the code involved; each
step of the answer says what changes, from facts planning_facts reads in the AST before and after
(a new function's signature, a parameter added or dropped, an exception now raised or caught, a
warning now emitted, a call swapped, a new check, a constant's value; which of the series' names a
new test calls and what it expects; a docs section or deprecation notice added; that a changelog
entry is added, never its text), then how the steps were grouped into commits. Every name a step
spells is in the prompt's "Code involved". Comment- and docstring-only edits and config files are
no steps (counted); a plan whose code steps mostly only name definitions ("change `f`") restates
its prompt and is skipped as `name_dump`. Bot commits, version bumps, docs-only and sweeping
commits are skipped and counted.

From sessions, a conversation in which the assistant called tools across several turns becomes
the plan for its first request: one step per call, in order, with its arguments, and each later
request as the point where it continued.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, Skips
from services.harvester.generators.affect import call_text, clip, conversations
from services.harvester.generators.planning_changes import Change, FileChange, public, read_change
from services.harvester.generators.planning_facts import Facts, definition_facts, docs_facts, test_calls
from services.harvester.gitlog import Commit, read_commits
from services.harvester.session_formats import Conversation

NAME = "planning"
MIN_STEPS = 3  # steps (a file's part in one commit): source + its test + a changelog entry at least
MAX_STEPS = 7  # commits in one series
MAX_PLAN_STEPS = 12  # file steps in one series: more is a list, not a plan
MAX_ANSWER_STEPS = 8  # steps left once comment and config edits are omitted: a longer answer is history, not a plan
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


class _Shown:
    """What the prompt must show: each definition the answer names (with the parameters it names,
    `Serializer.__init__(fallback_signers)`) and each other name a fact spells (`BadSignature`)."""

    def __init__(self) -> None:
        self.defs: dict[str, list[str]] = {}
        self.names: set[str] = set()

    def define(self, q: str, params: list[str] | None = None) -> str:
        params = params or []
        ps = self.defs.setdefault(q, [])
        ps.extend(p for p in params if p not in ps)
        return f"`{q}({', '.join(params)})`" if params else f"`{q}`"

    def facts(self, f: Facts) -> str:
        self.names.update(f.names)
        return ", ".join(f.phrases)

    def line(self) -> str:
        entries = [f"`{q}({', '.join(ps)})`" if ps else f"`{q}`" for q, ps in sorted(self.defs.items())]
        covered = {w for q, ps in self.defs.items() for w in (q, *q.split("."), *ps)}
        covered |= {n.split("(")[0] for n in self.names if "(" in n}  # `f(tz)` shows `f` too
        entries += [f"`{n}`" for n in sorted(self.names - covered)]
        return ", ".join(entries)


def _files(paths: set[str]) -> str:
    shown = sorted(paths)[:MAX_FILES_SHOWN]
    more = f" and {len(paths) - len(shown)} more" if len(paths) > len(shown) else ""
    return ", ".join(f"`{p}`" for p in shown) + more


def _shown(qs: list[str]) -> list[str]:
    """The definitions a step names: not a private dunder, the public API first (a private helper
    too, after it: where the work went)."""
    keep = [q for q in qs if not q.rsplit(".", 1)[-1].startswith("__") or public(q)]
    return sorted(keep, key=lambda q: not public(q))


def _more(n: int) -> str:
    return f" and {n} more" if n > 0 else ""


def _is_test(q: str) -> bool:
    return q.rsplit(".", 1)[-1].startswith("test")


@dataclass
class Step:
    text: str
    concrete: bool  # says what changes, not only which names: a plan of unconcrete steps is a name dump
    role: str = ""  # the file's: source and test steps are the ones that must say what changes


def _source_step(f: FileChange, known: set[str], shown: _Shown) -> Step:
    """Each added, changed and removed definition with what changed in it (at most MAX_NAMES_SHOWN)."""
    added, changed, removed = _shown(f.added), _shown(f.changed), _shown(f.removed)
    items = [("add", q) for q in added] + [("change", q) for q in changed] + [("remove", q) for q in removed]
    items.sort(key=lambda it: not public(it[1]))  # public API first, whatever was done to it
    parts: list[str] = []
    concrete = False
    for verb, q in items[:MAX_NAMES_SHOWN]:
        facts = definition_facts(f.before.get(q), f.after.get(q), known | f.defined, test=False) \
            if verb != "remove" else Facts()
        name = shown.define(q, facts.params)
        detail = shown.facts(facts)
        concrete |= bool(detail) or bool(facts.params) or verb == "remove"
        parts.append(f"{verb} {name}" + (f": {detail}" if detail else ""))
    if not parts:
        return Step(f"In `{f.path}`, {_unnamed(f)}", False)
    verb = "Create" if f.status == "added" else "In"
    extra = len(items) - MAX_NAMES_SHOWN
    what = "; ".join(parts) + (f"; and {extra} more definition{'s' if extra > 1 else ''}" if extra > 0 else "")
    return Step(f"Create `{f.path}` and {what}" if verb == "Create" else f"In `{f.path}`, {what}", concrete)


def _test_step(f: FileChange, known: set[str], shown: _Shown) -> Step:
    """The tests (and fixtures) added and changed: which of the series' names they call and what
    they expect; a test set to a value (`test_x = None` turns off an inherited test) with it."""
    funcs = [q for q in (*f.added, *f.changed) if isinstance(f.after.get(q), (ast.FunctionDef, ast.AsyncFunctionDef))]
    groups = (("add the test", [q for q in funcs if q in f.added and _is_test(q)]),
              ("change the test", [q for q in funcs if q in f.changed and _is_test(q)]),
              ("add the helper", [q for q in funcs if q in f.added and not _is_test(q)]),
              ("change the helper", [q for q in funcs if q in f.changed and not _is_test(q)]))
    parts: list[str] = []
    concrete = False
    room = MAX_NAMES_SHOWN
    for verb, qs in groups:
        if not qs or room <= 0:
            continue
        merged = Facts()
        calls: set[str] = set()
        for q in qs:
            node = f.after[q]
            if verb.startswith("add"):
                calls.update(test_calls(node, known))
            facts = definition_facts(f.before.get(q), node, known | f.defined, test=True)
            for ph in facts.phrases:
                merged.add(ph, *facts.names)
        head = qs[:min(room, 2)]
        room -= len(head)
        names = ", ".join(shown.define(q) for q in head) + _more(len(qs) - len(head))
        text = f"{verb}{'s' if len(qs) > 1 else ''} {names}"
        called = sorted(calls | {ph.removeprefix("call ").strip("`") for ph in merged.phrases
                                 if ph.startswith("call ") and " instead of " not in ph})
        expected = [ph.removeprefix("expect ") for ph in merged.phrases if ph.startswith("expect ")]
        other = [ph for ph in merged.phrases if not ph.startswith(("expect ", "call ")) or " instead of " in ph][:2]
        phrases = ([f"call {', '.join(f'`{c}`' for c in called[:MAX_NAMES_SHOWN])}"] if called else []) + other \
            + ([f"expect {', '.join(expected[:3])}"] if expected else [])
        # `pytest.raises(A)`, `pytest.raises(B)` as one expectation, not two
        shown.names.update(called[:MAX_NAMES_SHOWN])
        shown.facts(merged)
        concrete |= bool(phrases)
        parts.append(text + (f" to {' and '.join(phrases)}" if phrases else ""))
    for q in f.added:  # `TestJWSSerializer.test_iter_unsigners = None`: a test switched off, not written
        node = f.after.get(q)
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and room > 0 and (facts := definition_facts(
                None, node, known, test=True)).phrases:
            parts.append(f"set {shown.define(q)} to {facts.phrases[0].removeprefix('set to ')}")
            concrete, room = True, room - 1
    if not parts:
        return Step(f"In `{f.path}`, {_unnamed(f)}", False)
    what = "; ".join(parts)
    return Step(f"Create `{f.path}` and {what}" if f.status == "added" else f"In `{f.path}`, {what}", concrete)


def _unnamed(f: FileChange) -> str:
    """A change to no named definition: what its lines show."""
    if any(_IMPORT.match(ln) for ln in f.lines) and all(_IMPORT.match(ln) or _IMPORT_TAIL.match(ln) for ln in f.lines):
        return "update its imports"
    return "change the tests' shared code" if f.role == "test" else "change module-level code"


def step(f: FileChange, new_names: set[str], known: set[str], shown: _Shown) -> Step:
    """One file's part in a commit, from what the commit did to it."""
    st = _step(f, new_names, known, shown)
    st.role = f.role
    return st


def _step(f: FileChange, new_names: set[str], known: set[str], shown: _Shown) -> Step:
    if f.status == "deleted":
        return Step(f"Delete `{f.path}`", True)
    if f.role == "source":
        return _source_step(f, known, shown)
    if f.role == "test":
        return _test_step(f, known, shown)
    named = sorted(q for q in new_names if q.rsplit(".", 1)[-1] in f.words)[:MAX_NAMES_SHOWN]
    for q in named:
        shown.define(q)
    names = ", ".join(f"`{q}`" for q in named)
    if f.role == "docs":
        facts = docs_facts(f.plus)
        detail = shown.facts(Facts(facts.phrases[:MAX_NAMES_SHOWN], facts.names))
        if detail:
            return Step(f"In `{f.path}`, {detail}", True)
        return Step(f"Document {names} in `{f.path}`" if named else f"Update the docs in `{f.path}`", bool(named))
    # the changelog: that an entry is added, never its text (versions and issue numbers)
    return Step(f"Add a changelog entry for {names} to `{f.path}`" if named else f"Add a changelog entry to `{f.path}`",
                True)


def omitted(f: FileChange) -> str | None:
    """Why a file's part in a commit is no step of the plan: a comment or docstring edit changes no
    behaviour, and a config file (tox.ini, CI) changed on the way is housekeeping."""
    if f.role in ("source", "test") and f.same_code and f.status != "added":
        return "omitted_comment_step"
    if f.role == "other":
        return "omitted_config_step"
    return None


def series_draft(s: Series, skips: Skips | None = None) -> Draft | None:
    """The plan, or None (counted) when its steps would only sort the prompt's names into files."""
    goal = subject(next(ch.commit for ch in s.steps if ch.of("source")))  # not the failing test before it
    new_names = {q for ch in s.steps for f in ch.of("source") for q in f.added if public(q)}
    touched = {q for ch in s.steps for f in ch.of("source") for q in (*f.added, *f.changed, *f.removed)}
    known = touched | {p for q in touched for p in q.split(".")}
    steps: list[Step] = []
    groups: list[tuple[int, int]] = []
    shown = _Shown()
    files: set[str] = set()
    for ch in s.steps:
        first = len(steps) + 1
        for f in sorted(ch.files, key=lambda f: (_ROLE_ORDER[f.role], f.path)):
            if (why := omitted(f)) is not None:
                if skips is not None:
                    skips.add(NAME, why)
                continue
            steps.append(step(f, new_names, known, shown))
            files.add(f.path)
        if len(steps) >= first:
            groups.append((first, len(steps)))
    code = [st for st in steps if st.role in ("source", "test")]
    if len(steps) < MIN_STEPS or len(steps) > MAX_ANSWER_STEPS or 2 * sum(st.concrete for st in code) < len(code) \
            or not any(st.concrete for st in code):
        if skips is not None:
            skips.add(NAME, "too_few_steps" if len(steps) < MIN_STEPS else "too_many_steps"
                      if len(steps) > MAX_ANSWER_STEPS else "name_dump")
        return None
    lines = [f"{i}. {st.text}." for i, st in enumerate(steps, 1)]
    prompt = (f"Plan the work, step by step, in the order you would do it.\n\nGoal: {goal}\n\n"
              f"Files involved: {_files(files)}")
    if code_line := shown.line():
        prompt += f"\n\nCode involved: {code_line}"
    spans = [f"{a}" if a == b else f"{a}-{b}" for a, b in groups]
    if len(groups) == 1:
        shape = f"All {len(lines)} steps went in as one commit."
    else:
        shape = f"The steps went in as {len(groups)} commits, in this order: steps {', then '.join(spans)}."
    first_roles = {f.role for f in s.steps[0].files}
    if len(groups) > 1 and first_roles == {"test"}:
        shape += " The test was written first, in a commit of its own, before the change it checks."
    tests = sorted({f.path for ch in s.steps for f in ch.of("test") if f.path in files})
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
                if (d := series_draft(s, ctx.skips)) is not None:
                    yield d
        for conv in conversations(ctx, NAME):
            if (d := session_draft(conv)) is not None:
                yield d
            elif len(conv.turns) > 1:
                ctx.skips.add(NAME, "session_without_multistep_task")
