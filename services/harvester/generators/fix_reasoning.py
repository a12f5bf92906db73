"""Bugfix commits → "what was failing, and why does this change fix it?", reasoned from the diff.

Only small, focused fixes qualify (a bugfix message, Python code changed, a few hunks): there the
diff itself says what behaviour changed. A commit named for the error it handles ("handle
OverflowError ...") qualifies only when the diff has the shape of a fix (`shapes`: a handler that
catches more, a new try/except, a changed condition, a new guard, a different exception); lint and
typing "fixes" never do. Docstring lines are prose, not code changes. The worked reasoning walks the
evidence in order: what the message reports, where the change is (the enclosing function git names), the exact fragment
each changed line lost and gained (a token-level diff of the old and new line), and what a test
added with the fix asserts. The answer then names the failure and the mechanism of the fix from
those facts only; every one of them is in the prompt (the message and the diff). Both forms are
drafted: the steps written out (for a base model without think tags) and the steps as a thought
that core renders in the family's tags.
"""

from __future__ import annotations

import difflib
import keyword
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git

from services.harvester.base import Context, Draft, in_skipped_dir
from services.harvester.gitlog import Commit, FileDiff, Hunk, commit_range, read_commits

NAME = "fix_reasoning"
MAX_CODE_HUNKS = 4
MAX_CHANGED_LINES = 40
MAX_PAIRS = 4
MAX_SUBJECT = 100

_BUGFIX = re.compile(r"^(?:fix|bugfix|hotfix)(?:\(.*?\))?!?:|\b(?:fix(?:es|ed)?|bug|crash(?:es|ed)?|regression|"
                     r"broken|off-by-one|race|leak|wrong|incorrect)\b", re.IGNORECASE)
_NOT_A_FIX = re.compile(r"\b(?:typo|docs?|readme|format(?:ting)?|lint|whitespace|bump|version|release|"
                        r"changelog|ci|mypy|flake8|pyright|pylint|ruff|typing|links?|url)\b", re.IGNORECASE)
# "handle OverflowError ...", "catching year overflow ValueError": a fix named by what it catches;
# it counts only when the diff has the shape of a fix (see `shapes`).
_HANDLES = re.compile(r"\b(?:handl\w*|catch\w*|guard\w*|avoid\w*|prevent\w*)\b.*\b(?:\w+Error|\w*Exception|"
                      r"errors?|overflow)\b|\b\w+Error\b.*\b(?:handl\w*|caught|catch\w*)\b", re.IGNORECASE)
_EXCEPT = re.compile(r"^except\s*\(?\s*([\w., ]*?)\s*\)?\s*(?:as\s+\w+)?\s*:")
_COND = re.compile(r"^(?:if|elif|while)\s+(.+?):\s*$")
_RAISE = re.compile(r"^raise\s+([\w.]+)")
_TRAILER = re.compile(r"^(?:Signed-off-by|Co-authored-by|Reviewed-by|Change-Id):.*$", re.IGNORECASE | re.MULTILINE)
_PR_REF = re.compile(r"\s*\((?:#\d+|[\w.-]+/[\w.-]+#\d+)\)|\s+#\d+\b")
_BOT = re.compile(r"\[bot\]|dependabot|renovate|pre-commit-ci|github-actions", re.IGNORECASE)
_TOKEN = re.compile(r"==|!=|<=|>=|//|\*\*|->|:=|<<|>>|\w+|\S")  # an operator is one token: `>` → `>=` reads as such
_TRAILING = re.compile(r"\s{2,}#\s*(.+)$")  # PEP 8 inline comment (two spaces): not a "#" inside a string
_ASSERT = re.compile(r"^\s*(?:assert\b|self\.assert\w*\(|with pytest\.raises\()")


@dataclass
class Pair:
    path: str
    where: str  # the enclosing def/class git shows, or ""
    old: str
    new: str


def is_test_path(path: str) -> bool:
    p = PurePosixPath(path)
    return p.name.startswith("test_") or p.name.endswith("_test.py") or "tests" in p.parts


def message_of(c: Commit) -> tuple[str, str]:
    """(subject, body) without trailers and PR references: the prompt cannot show those."""
    text = _PR_REF.sub("", _TRAILER.sub("", c.message)).strip()
    subject, _, body = text.partition("\n")
    return subject.strip(), " ".join(body.split())


def is_bugfix(c: Commit) -> bool:
    subject, _ = message_of(c)
    return bool(_BUGFIX.search(subject) or _HANDLES.search(subject)) and not _NOT_A_FIX.search(subject)


def _caught(line: str) -> set[str]:
    m = _EXCEPT.match(line)
    return {t.strip().rsplit(".", 1)[-1] for t in m.group(1).split(",") if t.strip()} if m else set()


def _reraised(h: Hunk, after: str) -> str | None:
    """The exception a handler turns what it caught into: the first `raise X` in the lines after it."""
    lines = [ln[1:].strip() for ln in h.lines if ln[:1] in (" ", "+")]
    if after not in lines:
        return None
    for ln in lines[lines.index(after) + 1:lines.index(after) + 6]:
        if m := _RAISE.match(ln):
            return m.group(1)
    return None


def shapes(h: Hunk, where: str) -> list[str]:
    """What makes a hunk a fix, said from its lines only: a handler that catches more, a new
    try/except, a changed condition, a new guard, a different exception raised."""
    out: list[str] = []
    pairs, _gone, added, _ = pairs_of(h, "")
    at = f" in {where}" if where else ""
    for p in pairs:
        old_c, new_c = _caught(p.old), _caught(p.new)
        if new_c - old_c and old_c:
            more = ", ".join(f"`{t}`" for t in sorted(new_c - old_c))
            into = _reraised(h, p.new)
            out.append(f"before, {more} raised in the `try` block{at} was not caught by `{p.old}` and escaped "
                       f"the handler; `{p.new}` now catches it" + (f" and raises `{into}` instead" if into else ""))
        elif (a := _COND.match(p.old)) and (b := _COND.match(p.new)) and a.group(1) != b.group(1):
            lost, gained = fragment(a.group(1), b.group(1))
            if not lost and gained.startswith(("or ", "and ")):
                verb = "now also holds when" if gained.startswith("or ") else "now also requires"
                out.append(f"the condition{at} {verb} `{gained.split(' ', 1)[1]}`, so that case takes the "
                           "other path than before")
            else:
                out.append(f"the condition{at} changed from `{a.group(1)}` to `{b.group(1)}`, so inputs on which "
                           "the two differ now take the other path")
        elif (a := _RAISE.match(p.old)) and (b := _RAISE.match(p.new)) and a.group(1) != b.group(1):
            out.append(f"the code{at} now raises `{b.group(1)}` where it raised `{a.group(1)}`, so a caller "
                       f"catching `{b.group(1)}` now handles this case")
    if "try:" in added:
        new_c = set().union(*(_caught(a) for a in added))
        handler = next((a for a in added if _caught(a)), None)
        if new_c and handler:
            into = _reraised(h, handler)
            caught = ", ".join(f"`{t}`" for t in sorted(new_c))
            out.append(f"before, {caught} raised by the code now inside the new `try` block{at} propagated "
                       f"unhandled; now it is caught" + (f" and raised as `{into}` instead" if into else ""))
    for i, a in enumerate(added):
        m = _COND.match(a)
        if m and a.startswith("if ") and i + 1 < len(added) and added[i + 1].startswith(("raise", "return")):
            out.append(f"the new guard `{a}`{at} stops inputs where `{m.group(1)}` holds with `{added[i + 1]}` "
                       "before they reach the code below it")
    return out


def fragment(old: str, new: str) -> tuple[str, str]:
    """The tokens `old` lost and `new` gained, as source text (the smallest span that differs)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    ops = [op for op in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes() if op[0] != "equal"]
    if not ops:
        return "", ""
    i1, i2, j1, j2 = ops[0][1], ops[-1][2], ops[0][3], ops[-1][4]
    # back to the source text: the token spans' first and last characters in each line
    return _span(old, a, i1, i2), _span(new, b, j1, j2)


def _span(text: str, toks: list[str], i: int, j: int) -> str:
    if i >= j:
        return ""
    pos, starts = 0, []
    for t in toks:
        pos = text.index(t, pos)
        starts.append(pos)
        pos += len(t)
    return text[starts[i]:starts[j - 1] + len(toks[j - 1])].strip()


_TQ = ('"' * 3, "'" * 3)
_OPENS_STRING = re.compile(r"[=(,]\s*[rbuf]?(?:\"{3}|'{3})")


def _starts_in_docstring(lines: list[str]) -> bool:
    """Whether a hunk begins inside a triple-quoted string: its first line with an odd number of
    triple quotes closes one (text then quotes, or lone quotes not right after a `def`/`class` line)."""
    prev = ""
    for ln in lines:
        text = ln.strip()
        if sum(text.count(q) for q in _TQ) % 2:
            if text in _TQ:
                return not prev.endswith(":")
            return not text.lstrip("rbuf").startswith(_TQ) and not _OPENS_STRING.search(text)
        if text:
            prev = text
    return False


def pairs_of(h: Hunk, path: str) -> tuple[list[Pair], list[str], list[str], list[str]]:
    """A hunk's changes: old→new line pairs (a removed line and the added line most like it, ratio
    ≥ 0.5), code lines only removed, code lines only added, and comment lines added (the author's
    own explanation, kept apart as evidence). Blank lines are ignored."""
    pairs: list[Pair] = []
    gone: list[str] = []
    added: list[str] = []
    comments: list[str] = []
    minus: list[str] = []
    plus: list[str] = []

    def flush() -> None:
        comments.extend(n.lstrip("# ").strip() for n in plus if n.startswith("#"))
        # a trailing "  # why" on an added line is the author's explanation too; the code stays without it
        comments.extend(m.group(1).strip() for n in plus if not n.startswith("#") and (m := _TRAILING.search(n)))
        news = [_TRAILING.sub("", n).rstrip() for n in plus if n and not n.startswith("#")]
        used: set[int] = set()
        for o in (o for o in minus if o and not o.startswith("#")):
            best, score = None, 0.5
            for j, n in enumerate(news):
                r = difflib.SequenceMatcher(a=o, b=n, autojunk=False).ratio()
                if j not in used and r >= score:
                    best, score = j, r
            if best is None:
                gone.append(o)
            else:
                used.add(best)
                pairs.append(Pair(path, h.header, o, news[best]))
        added.extend(n for j, n in enumerate(news) if j not in used)
        minus.clear()
        plus.clear()

    start = _starts_in_docstring([ln[1:] for ln in h.lines])
    doc = {"-": start, "+": start}  # inside a docstring on the old / new side: prose, not code
    for ln in h.lines:
        quotes = ln.count('"""') + ln.count("'''")
        sides = "-+" if ln[:1] == " " else ln[:1]
        in_doc = any(doc[s] for s in sides) or quotes > 0
        for s in sides:
            doc[s] ^= quotes % 2 == 1
        if ln.startswith("-"):
            if plus:
                flush()
            if not in_doc:
                minus.append(ln[1:].strip())
        elif ln.startswith("+"):
            if not in_doc:
                plus.append(ln[1:].strip())
        else:
            flush()
    flush()
    return pairs, gone, added, comments


def code_files(c: Commit) -> tuple[list[FileDiff], list[FileDiff]]:
    code = [f for f in c.files if f.path.endswith(".py") and f.status == "modified" and not in_skipped_dir(f.path)]
    return [f for f in code if not is_test_path(f.path)], [f for f in code if is_test_path(f.path)] + [
        f for f in c.files if f.path.endswith(".py") and f.status == "added" and is_test_path(f.path)]


def _where(h: Hunk) -> str:
    """The function the change is in, as the diff shows it: the last `def`/`class` line above the
    first changed line inside the hunk, else the one git names in the hunk header."""
    above = []
    for ln in h.lines:
        if ln[:1] in "+-":
            break
        above.append(ln[1:])
    found = [m.group(1) for a in above if (m := re.match(r"\s*(?:async\s+)?(?:def|class)\s+(\w+)", a))]
    m = re.search(r"\b(?:def|class)\s+(\w+)", h.header)
    name = found[-1] if found else m.group(1) if m else ""
    return f"`{name}`" if name else ""


def reasoning(c: Commit, src: list[FileDiff], tests: list[FileDiff]) -> tuple[list[str], str] | None:
    """(steps, answer) from the message and the diff, or None when the diff shows no code change."""
    subject, body = message_of(c)
    steps = [f"The commit reports: \"{subject}\"" + (f", and explains: \"{_clip(body, 300)}\"" if body else "") + "."]
    mechanisms: list[str] = []
    fixes: list[str] = []
    notes: list[str] = []
    names: set[str] = set()
    for f in src:
        for h in f.hunks:
            pairs, gone, added, comments = pairs_of(h, f.path)
            where = f" in {_where(h)}" if _where(h) else ""
            fixes += shapes(h, _where(h))
            names.update(re.findall(r"\b(?:def|class)\s+(\w+)", h.header))
            for p in pairs[:MAX_PAIRS]:
                lost, gained = fragment(p.old, p.new)
                if not lost and not gained:
                    continue
                what = (f"`{lost}` became `{gained}`" if lost and gained
                        else f"`{lost}` was dropped" if lost else f"`{gained}` was added")
                steps.append(f"In `{f.path}`{where}, `{p.old}` is now `{p.new}`: {what}.")
                mechanisms.append(f"{what}{where}")
                names.update(w for w in re.findall(r"[A-Za-z_]\w{2,}", gained) if not keyword.iskeyword(w))
            if added:
                shown = "; ".join(f"`{a}`" for a in added[:3]) + (f" (and {len(added) - 3} more lines)"
                                                                    if len(added) > 3 else "")
                steps.append(f"In `{f.path}`{where}, new code: {shown}.")
                mechanisms.append(f"{where.strip() or 'the code'} gained {shown}".replace("in `", "`", 1))
                names.update(w for a in added for w in re.findall(r"[A-Za-z_]\w{2,}", a) if not keyword.iskeyword(w))
            if gone:
                shown = "; ".join(f"`{g}`" for g in gone[:3]) + (f" (and {len(gone) - 3} more lines)"
                                                                  if len(gone) > 3 else "")
                steps.append(f"In `{f.path}`{where}, removed: {shown}.")
                mechanisms.append(f"{where.strip() or 'the code'} lost {shown}".replace("in `", "`", 1))
            notes.extend(comments)
    if not mechanisms:
        return None
    subject_only_handles = not _BUGFIX.search(subject)
    if subject_only_handles and not fixes:
        return None  # "handle X" with no handler, guard or condition in the diff: not shown to be a fix
    if notes:
        steps.append("The comment added with the change says: \"" + " ".join(notes)[:300] + "\".")
    # a test of the changed code (it names a function or identifier the fix touched), not any assert
    asserts = [ln[1:].strip() for f in tests for h in f.hunks for ln in h.lines
               if ln.startswith("+") and _ASSERT.match(ln[1:]) and any(n in ln for n in names)]
    if asserts:
        steps.append(f"The test added with the fix checks `{asserts[0]}`: the behaviour that failed before.")
    answer = [f"The reported failure: {_failure(subject)}."]
    answer.append("What the change does: " + "; ".join(mechanisms[:3]) + ".")
    if fixes:
        steps.append("So: " + "; ".join(fixes[:3]) + ".")
        answer.append("Why that fixes it: " + "; ".join(fixes[:3]) + ".")
        if body or notes:
            answer.append("The author adds: " + _clip(body or " ".join(notes), 300).rstrip(".") + ".")
    elif body or notes:
        answer.append("Why that fixes it: " + _clip(body or " ".join(notes), 300).rstrip(".") + ".")
    else:
        answer.append("Why that fixes it: these are the only code changes in a commit that names the failure, "
                      "so the old code they replace is where it came from.")
    if asserts:
        answer.append(f"The test `{asserts[0]}` pins the fixed behaviour.")
    return steps, " ".join(answer)


def _failure(subject: str) -> str:
    if not _BUGFIX.search(subject):  # "handle OverflowError ...": the failure is what went unhandled
        return f"an exception the code did not handle (the message: \"{subject}\")"
    s = re.sub(r"^(?:fix|bugfix|hotfix)(?:\(.*?\))?!?:\s*", "", subject, flags=re.IGNORECASE)
    s = re.sub(r"^(?:fix(?:es|ed)?)\s+", "", s, flags=re.IGNORECASE)
    return s.rstrip(".") or subject


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 3].rstrip() + "..."


def prompt_of(c: Commit, src: list[FileDiff], tests: list[FileDiff]) -> str:
    subject, body = message_of(c)
    patch = "\n".join(f.patch for f in [*src, *tests])
    msg = subject + (f"\n\n{body}" if body else "")
    return (f"This commit fixes a bug. What was failing, and why does the change fix it?\n\n"
            f"Commit message:\n{msg}\n\n```diff\n{patch}\n```")


def commit_drafts(c: Commit, ctx: Context) -> Iterator[Draft]:
    if not is_bugfix(c):
        return
    if len(message_of(c)[0]) > MAX_SUBJECT or ";" in message_of(c)[0]:  # several changes in one: no single "why"
        ctx.skips.add(NAME, "unfocused_commit")
        return
    if _BOT.search(c.author or ""):
        ctx.skips.add(NAME, "bot_author")
        return
    src, tests = code_files(c)
    hunks = [h for f in src for h in f.hunks]
    changed = sum(1 for h in hunks for ln in h.lines if ln[:1] in "+-")
    if not hunks:
        ctx.skips.add(NAME, "no_code_change")
        return
    if len(hunks) > MAX_CODE_HUNKS or changed > MAX_CHANGED_LINES:
        ctx.skips.add(NAME, "fix_too_large")
        return
    worked = reasoning(c, src, tests)
    if worked is None:
        ctx.skips.add(NAME, "no_line_change" if _BUGFIX.search(message_of(c)[0]) else "no_fix_shape")
        return
    steps, answer = worked
    numbered = "\n".join(f"{i}. {s}" for i, s in enumerate(steps, 1))
    prompt = prompt_of(c, src, tests)
    where = dict(generator=NAME, source=src[0].path, path=src[0].path, commit=c.sha, hint="bugfix")
    yield Draft(task="fix_explain", messages=(("user", prompt), ("assistant", f"{numbered}\n\n{answer}")), **where)
    yield Draft(task="fix_explain", format="think", thought=numbered,
                messages=(("user", prompt), ("assistant", answer)), **where)


class FixReasoning:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        root: Path | None = ctx.plan.repo
        if root is None:
            return
        repo = git.Repo(root)
        if not repo.head.is_valid():
            return
        rev, _ = commit_range(repo, ctx.plan.since_commit)  # an unknown watermark: git_diffs counts it
        for c in reversed(read_commits(root, rev, ctx.plan.max_commits)):
            if len(c.parents) <= 1:
                yield from commit_drafts(c, ctx)
