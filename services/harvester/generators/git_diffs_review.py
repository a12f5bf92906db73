"""A commit's diff → what a reviewer would say: what changed, why (the message as evidence), and
the findings a reviewer needs (git_diffs_findings: checked against the tree at the commit).

"What changed" is read off the diff (changed `def` / `class` / `raise` / import / constant lines)
and the syntax trees (which functions' code really changed); the author's message is quoted as the
stated reason, never used as the answer. No generic risk lines: without a finding there is no review.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from services.harvester.generators.git_diffs_findings import FileFacts, is_changelog, is_test_path, rank
from services.harvester.gitlog import FileDiff

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)\s*\((.*)$")
_CLASS = re.compile(r"^\s*class\s+(\w+)\b")
_HEADER_SYM = re.compile(r"(?:def|class)\s+(\w+)")
_RAISE = re.compile(r"^\s*raise\s+([A-Z]\w*)")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w, ]+)|import\s+([\w.]+))")
_CONST = re.compile(r"^([A-Z][A-Z0-9_]{2,})\s*(?::[^=]+)?=\s*(.+?)\s*$")
_KEY = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*[:=]\s*(\S.*?)\s*$")
MAX_FINDINGS = 5
_TEST_FN = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)")


@dataclass
class FileChange:
    """What one file's diff does, in reviewer terms."""

    path: str
    status: str
    added: int
    removed: int
    new_defs: list[str] = field(default_factory=list)
    removed_defs: list[str] = field(default_factory=list)
    signature_changed: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # existing functions/classes whose body changed
    new_raises: list[str] = field(default_factory=list)
    dropped_raises: list[str] = field(default_factory=list)
    new_imports: list[str] = field(default_factory=list)
    constants: list[tuple[str, str, str]] = field(default_factory=list)  # name, old, new
    keys: list[tuple[str, str, str]] = field(default_factory=list)  # config key, old, new
    new_tests: list[str] = field(default_factory=list)

    @property
    def is_test(self) -> bool:
        return is_test_path(self.path)

    @property
    def is_python(self) -> bool:
        return self.path.endswith(".py")


def _uniq(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def analyse(f: FileDiff) -> FileChange:
    plus = [ln[1:] for h in f.hunks for ln in h.lines if ln.startswith("+")]
    minus = [ln[1:] for h in f.hunks for ln in h.lines if ln.startswith("-")]
    ch = FileChange(f.path, f.status, f.added, f.removed)
    if ch.is_python:
        new_sig = {m.group(1): m.group(2) for ln in plus if (m := _DEF.match(ln))}
        old_sig = {m.group(1): m.group(2) for ln in minus if (m := _DEF.match(ln))}
        new_cls = {m.group(1) for ln in plus if (m := _CLASS.match(ln))}
        old_cls = {m.group(1) for ln in minus if (m := _CLASS.match(ln))}
        ch.new_defs = _uniq([n for n in [*new_sig, *sorted(new_cls)] if n not in old_sig and n not in old_cls])
        ch.removed_defs = _uniq([n for n in [*old_sig, *sorted(old_cls)] if n not in new_sig and n not in new_cls])
        ch.signature_changed = [n for n in new_sig if n in old_sig and new_sig[n] != old_sig[n]]
        changed_here = set(ch.new_defs) | set(ch.removed_defs) | set(ch.signature_changed)
        for h in f.hunks:
            if not any(ln[:1] in "+-" for ln in h.lines):
                continue
            m = _HEADER_SYM.search(h.header)
            if m and m.group(1) not in changed_here:
                ch.touched.append(m.group(1))
        ch.touched = _uniq(ch.touched)
        raises_new = [m.group(1) for ln in plus if (m := _RAISE.match(ln))]
        raises_old = [m.group(1) for ln in minus if (m := _RAISE.match(ln))]
        ch.new_raises = _uniq([r for r in raises_new if r not in raises_old])
        ch.dropped_raises = _uniq([r for r in raises_old if r not in raises_new])
        imp_new = {_import_name(m) for ln in plus if (m := _IMPORT.match(ln))}
        imp_old = {_import_name(m) for ln in minus if (m := _IMPORT.match(ln))}
        ch.new_imports = sorted(imp_new - imp_old)
        ch.constants = _pairs(_CONST, minus, plus)
        ch.new_tests = _uniq([m.group(1) for ln in plus if (m := _TEST_FN.match(ln))])
    if PurePosixPath(f.path).suffix in (".toml", ".yaml", ".yml", ".cfg", ".ini", ".json"):
        ch.keys = _pairs(_KEY, minus, plus)
    return ch


def _import_name(m: re.Match[str]) -> str:
    return m.group(1) or m.group(3)


def _pairs(pattern: re.Pattern[str], minus: list[str], plus: list[str]) -> list[tuple[str, str, str]]:
    """Names assigned on both sides with a different value: old → new."""
    old = {m.group(1): m.group(2) for ln in minus if (m := pattern.match(ln))}
    new = {m.group(1): m.group(2) for ln in plus if (m := pattern.match(ln))}
    return [(k, old[k], new[k]) for k in new if k in old and old[k] != new[k]][:4]


def _names(items: list[str], limit: int = 5) -> str:
    shown = [f"`{i}`" for i in items[:limit]]
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return (", ".join(shown[:-1]) + " and " + shown[-1] if len(shown) > 1 else shown[0]) + more


def _short(value: str, n: int = 40) -> str:
    return value if len(value) <= n else value[: n - 1] + "…"


def describe(ch: FileChange, facts: FileFacts | None = None) -> str:
    """One line: the file, its size of change, and what it does to which symbols (per the syntax
    trees when the file parses, else per the diff's `def` lines and hunk headers)."""
    verb = "new file" if ch.status == "added" else f"+{ch.added}/-{ch.removed}"
    parts: list[str] = []
    if ch.new_tests:
        parts.append(f"adds test(s) {_names(ch.new_tests)}")
    if facts is not None and facts.trivial:
        parts.append(f"only {facts.trivial.replace('_only', '').replace('_', ' ')}s change")
    added = facts.added if facts else ch.new_defs
    defs = [d for d in added if d.rsplit(".", 1)[-1] not in ch.new_tests]
    if defs:
        parts.append(f"adds {_names(defs)}")
    removed = facts.removed if facts else ch.removed_defs
    if removed:
        parts.append(f"removes {_names(removed)}")
    signature = facts.signature if facts else ch.signature_changed
    if signature:
        parts.append(f"changes the parameters of {_names(signature)}")
    body = facts.code if facts else ch.touched
    if body:
        parts.append(f"changes the code of {_names(body)}")
    for name, old, new in ch.constants:
        parts.append(f"sets `{name}` from `{_short(old)}` to `{_short(new)}`")
    for key, old, new in ch.keys:
        parts.append(f"changes `{key}` from `{_short(old)}` to `{_short(new)}`")
    if ch.new_raises:
        parts.append(f"now raises {_names(ch.new_raises)}")
    if ch.dropped_raises:
        parts.append(f"no longer raises {_names(ch.dropped_raises)}")
    if ch.new_imports:
        parts.append(f"imports {_names(ch.new_imports, 3)}")
    if parts:
        what = "; ".join(parts)
    elif ch.status == "added":
        what = "adds an empty file" if not ch.added else "adds the file"
    elif is_changelog(ch.path):
        what = "adds to the changelog" if not ch.removed else "edits the changelog"
    elif not ch.is_python:
        what = "edits the text"
    else:
        what = "changes module-level code"
    return f"- `{ch.path}` ({verb}): {what}."


def review_answer(changes: list[FileChange], findings: list[str], message: str,
                  changed: dict[str, FileFacts] | None = None, part: bool = False) -> str:
    """What changed, why (quoting the message as the author's claim), and what to check."""
    files = len(changes)
    head = (f"{'This part of the commit' if part else 'This commit'} touches {files} file{'s' if files != 1 else ''} "
            f"(+{sum(c.added for c in changes)}/-{sum(c.removed for c in changes)} lines).")
    body = "\n".join(describe(c, (changed or {}).get(c.path)) for c in changes)
    subject = message.strip().splitlines()[0] if message.strip() else ""
    why = (f'Why: the author\'s stated reason is "{subject}"; the changes above are the evidence for it.'
           if subject else "Why: the commit has no message; the diff alone shows the intent.")
    check = "\n".join(f"- {f}" for f in rank(findings, message)[:MAX_FINDINGS])
    return f"What changed: {head}\n{body}\n\n{why}\n\nWhat a reviewer should check:\n{check}"
