"""A commit's diff → what a reviewer would say: what changed, why (the message as evidence), the risk.

Everything in the answer is read off the diff itself (symbols in hunk headers and changed `def` /
`class` / `raise` / import / constant lines), so the answer never states a fact the prompt does
not show; the author's message is quoted as the stated reason, never used as the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath

from services.harvester.gitlog import FileDiff

_DEF = re.compile(r"^\s*(?:async\s+)?def\s+(\w+)\s*\((.*)$")
_CLASS = re.compile(r"^\s*class\s+(\w+)\b")
_HEADER_SYM = re.compile(r"(?:def|class)\s+(\w+)")
_RAISE = re.compile(r"^\s*raise\s+([A-Z]\w*)")
_IMPORT = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+([\w, ]+)|import\s+([\w.]+))")
_CONST = re.compile(r"^([A-Z][A-Z0-9_]{2,})\s*(?::[^=]+)?=\s*(.+?)\s*$")
_KEY = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*[:=]\s*(\S.*?)\s*$")
_TEST_FN = re.compile(r"^\s*(?:async\s+)?def\s+(test_\w+)")


def is_test_path(path: str) -> bool:
    p = PurePosixPath(path)
    return "tests" in p.parts or "test" in p.parts or p.name.startswith("test_") or p.stem.endswith("_test")


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
    edits: list[tuple[str, str]] = field(default_factory=list)  # small in-line replacements: old → new

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
    if f.status == "modified":
        ch.edits = _line_edits(f)
    elif PurePosixPath(f.path).suffix in (".toml", ".yaml", ".yml", ".cfg", ".ini", ".json"):
        ch.keys = _pairs(_KEY, minus, plus)
    return ch


def _token_edge(text: str, i: int, back: bool) -> int:
    """Move `i` to the nearest token boundary so an edit is shown as whole identifiers."""
    step = -1 if back else 1
    while 0 < i < len(text) and (text[i - 1].isalnum() or text[i - 1] in "_.") and \
            (text[i].isalnum() or text[i] in "_."):
        i += step
    return i


def _edit(old: str, new: str) -> tuple[str, str] | None:
    """The differing middle of two versions of one line (common prefix and suffix cut)."""
    old, new = old.strip(), new.strip()
    p = 0
    while p < min(len(old), len(new)) and old[p] == new[p]:
        p += 1
    q = 0
    while q < min(len(old), len(new)) - p and old[-1 - q] == new[-1 - q]:
        q += 1
    p = min(_token_edge(old, p, True), _token_edge(new, p, True))
    a, b = old[p:len(old) - q].strip(), new[p:len(new) - q].strip()
    if not a and not b or len(a) > 60 or len(b) > 60:
        return None
    return a, b


def _line_edits(f: FileDiff) -> list[tuple[str, str]]:
    """Replacements where a hunk swaps up to 3 lines for as many: the concrete change, shown small."""
    out: list[tuple[str, str]] = []
    for h in f.hunks:
        minus = [ln[1:] for ln in h.lines if ln.startswith("-")]
        plus = [ln[1:] for ln in h.lines if ln.startswith("+")]
        if 0 < len(minus) == len(plus) <= 3:
            out.extend(e for a, b in zip(minus, plus, strict=True)
                       if (e := _edit(a, b)) and e[0] and e[1] and "`" not in e[0] + e[1])
    return out[:3]


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


def describe(ch: FileChange) -> str:
    """One line: the file, its size of change, and what it does to which symbols."""
    verb = "new file" if ch.status == "added" else f"+{ch.added}/-{ch.removed}"
    parts: list[str] = []
    if ch.new_tests:
        parts.append(f"adds test(s) {_names(ch.new_tests)}")
    defs = [d for d in ch.new_defs if d not in ch.new_tests]
    if defs:
        parts.append(f"adds {_names(defs)}")
    if ch.removed_defs:
        parts.append(f"removes {_names(ch.removed_defs)}")
    if ch.signature_changed:
        parts.append(f"changes the signature of {_names(ch.signature_changed)}")
    if ch.touched:
        parts.append(f"changes the body of {_names(ch.touched)}")
    for old, new in ch.edits:
        parts.append(f"`{_short(old, 60)}` becomes `{_short(new, 60)}`")
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
    else:
        what = "edits lines outside any function the diff names"
    return f"- `{ch.path}` ({verb}): {what}."


def risks(changes: list[FileChange], kind: str) -> list[str]:
    """What a reviewer would check, from what the diff does (most specific first, at most three)."""
    out: list[str] = []
    code = [c for c in changes if c.is_python and not c.is_test]
    tests = [c for c in changes if c.is_test]
    for c in code:
        if c.signature_changed:
            out.append(f"every caller of {_names(c.signature_changed, 3)} must match the new signature; "
                       "search for call sites outside this diff")
        if c.removed_defs:
            out.append(f"{_names(c.removed_defs, 3)} disappear from `{c.path}`; anything still importing or "
                       "calling them breaks at run time")
        if c.new_raises:
            out.append(f"callers of `{c.path}` can now get {_names(c.new_raises, 3)}; check they handle it "
                       "or that it is meant to propagate")
        if c.dropped_raises:
            out.append(f"{_names(c.dropped_raises, 3)} is no longer raised in `{c.path}`; code or tests that "
                       "expected it change behaviour")
        if c.constants:
            out.append(f"changed value(s) {_names([n for n, _, _ in c.constants], 3)} apply to every user of "
                       "them; check the new value against the places that rely on the old one")
    for c in changes:
        if c.keys:
            out.append(f"configuration in `{c.path}` changes ({_names([k for k, _, _ in c.keys], 3)}); check "
                       "what reads those keys and any environment that overrides them")
    if code and not tests:
        touched = [s for c in code for s in (c.touched + c.new_defs)][:3]
        target = f" {_names(touched, 3)}" if touched else " this change"
        if kind == "bugfix":
            out.append(f"no test in this commit reproduces the failure; ask for one that fails without the "
                       f"change to{target}")
        else:
            out.append(f"no test in this commit exercises{target}; check existing tests cover the new behaviour")
    if tests and not code:
        out.append("only tests change: check each new assertion would fail if the behaviour it names broke, "
                   "not just that it passes")
    if not out:
        deleted = sum(c.removed for c in changes)
        if deleted > sum(c.added for c in changes):
            out.append("more lines are removed than added; check nothing outside the diff still relies on "
                       "the removed text")
        else:
            out.append("check the change reads correctly in context: the diff shows only three lines around "
                       "each edit")
    return out[:3]


def review_answer(changes: list[FileChange], message: str, kind: str, part: bool = False) -> str:
    """What changed, why (quoting the message as the author's claim), and the risk to check."""
    files = len(changes)
    head = (f"{'This part of the commit' if part else 'This commit'} touches {files} file{'s' if files != 1 else ''} "
            f"(+{sum(c.added for c in changes)}/-{sum(c.removed for c in changes)} lines).")
    body = "\n".join(describe(c) for c in changes)
    subject = message.strip().splitlines()[0] if message.strip() else ""
    why = (f'Why: the author\'s stated reason, from the message, is "{subject}"; the changes above are '
           "the evidence for it." if subject else "Why: the commit has no message; the diff alone shows the intent.")
    risk = "\n".join(f"- {r}" for r in risks(changes, kind))
    return f"What changed: {head}\n{body}\n\n{why}\n\nRisk to check:\n{risk}"
