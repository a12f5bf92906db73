"""The repo's Markdown and reStructuredText → one explanation pair per section.

"Explain <heading> in <file>." answered by the section's prose, with the markup a reader does not
see taken out (RST roles, directives, link targets, badges and images, HTML, emphasis markers;
code blocks stay) and clipped to the answer band; the core scrubs it like every text. Tiny
sections, changelogs, licences, tables of contents, boilerplate (Donate, Contributing, Support,
badges) and autodoc stubs (`.. automodule::` with nothing written around it) teach nothing about
the system and are skipped and counted. On an incremental run only the
documents changed since the watermark are mined.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import git

from services.harvester.base import SKIP_DIRS, Context, Draft, approx_tokens, read_text

NAME = "docs"
SUFFIXES = (".md", ".markdown", ".rst")
MAX_FILE_BYTES = 500_000
MIN_SECTION_TOKENS = 25
MAX_SECTION_LINES = 40
MAX_ANSWER_TOKENS = 550  # under the core's 600-token band, so a long section is clipped, not dropped
SKIP_FILES = re.compile(
    r"^(?:change[-_ ]?log|changes|history|news|release[-_ ]?notes|licen[cs]es?|copying|notice|authors|contributors|"
    r"code[-_ ]of[-_ ]conduct)(?:\.|$)", re.IGNORECASE)
SKIP_HEADINGS = re.compile(
    r"^(?:change[- ]?log|changes|history|release notes|licen[cs]e|copyright|contributors|authors|"
    r"(?:table of )?contents|toc)$", re.IGNORECASE)
# Sections every project has and none explains the system in: asks for money or help, badges.
BOILERPLATE_HEADINGS = re.compile(
    r"^(?:donat(?:e|ions?)|sponsors?(?:hip)?|funding|support(?: the project| us)?|backers|"
    r"contribut(?:e|ing|ions?)(?: guidelines?)?|how to contribute|code of conduct|acknowledge?ments?|credits|"
    r"thanks|badges?|status|community|chat|getting help|links|indices and tables|.*\blicen[cs]e\b.*)$",
    re.IGNORECASE)
_AUTODOC = re.compile(r"^\s*\.\. (?:auto\w+|toctree|currentmodule|module|py:\w+)::", re.MULTILINE)
# Markup a reader does not see: cleaned from the answer, never from code blocks.
_RST_DIRECTIVE = re.compile(r"^\s*\.\. [\w:-]+::.*$|^\s*\.\. _[^:]+:.*$|^\s*\.\. \|[^|]+\|.*$|^\s*:[\w-]+:(?:\s.*)?$")
# `:doc:` with no title names a page, not code: "the /signer" reads as the page's name, "signer"
_RST_DOC_ROLE = re.compile(r":doc:`~?([^`<]+?)`")
_RST_ROLE = re.compile(r":[\w:+-]+:`~?([^`<]+?)(?:\s*<[^>]+>)?`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^>]+>`__?")
_RST_REF = re.compile(r"`([^`]+)`_")
_RST_LITERAL = re.compile(r"``([^`]+)``")
_RST_SUBST = re.compile(r"\|[\w -]+\|_?")
_MD_IMAGE = re.compile(r"\[!\[[^\]]*\]\([^)]*\)\]\([^)]*\)|!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:[^)\s]+)(?:\s+\"[^\"]*\")?\)")
_MD_REF_DEF = re.compile(r"^\s*\[[^\]]+\]:\s+\S+.*$")
_HTML = re.compile(r"</?[a-zA-Z][^>]*>|<!--.*?-->", re.DOTALL)
_EMPHASIS = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1|(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ATX = re.compile(r"^ {0,3}(#{1,6})\s+(.+?)\s*#*\s*$")
_SETEXT = re.compile(r"^ {0,3}(?:=+|-+)\s*$")
_RST_RULE = re.compile(r"^([=\-`:'\"~^_*+#<>.])\1{2,}\s*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


@dataclass(frozen=True)
class Section:
    heading: str
    text: str
    lines: tuple[int, int]  # 1-based, inclusive, of the body


def headings(lines: list[str], rst: bool) -> list[tuple[int, int, str]]:
    """(first line of the heading, first line of its body, title) for every heading outside code fences."""
    out: list[tuple[int, int, str]] = []
    fence: str | None = None
    for i, line in enumerate(lines):
        if m := _FENCE.match(line):
            fence = None if fence == m.group(1) else (fence or m.group(1))
            continue
        if fence or not line.strip() or (out and i < out[-1][1]):
            continue
        title = line.strip()
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if rst:
            if _RST_RULE.match(nxt) and len(nxt.strip()) >= len(title) and not _RST_RULE.match(line):
                over = i > 0 and lines[i - 1].strip() == nxt.strip()
                out.append((i - 1 if over else i, i + 2, title))
        elif m := _ATX.match(line):
            out.append((i, i + 1, m.group(2).strip()))
        elif _SETEXT.match(nxt) and (i == 0 or not lines[i - 1].strip()) and not title.startswith(("|", "-", "*")):
            out.append((i, i + 2, title))
    return out


def clean(text: str, rst: bool = True) -> str:
    """The section as a reader sees it: markup out, code blocks (fenced or RST `::`) kept as they are."""
    out: list[str] = []
    fence: str | None = None
    literal = False  # inside an indented RST literal block (after a line ending in "::")
    for line in text.splitlines():
        if m := _FENCE.match(line):
            fence = None if fence == m.group(1) else (fence or m.group(1))
            out.append(line)
            continue
        if fence:
            out.append(line)
            continue
        if literal and (not line.strip() or line[:1] in " \t"):
            out.append(line)
            continue
        literal = False
        if (_RST_DIRECTIVE.match(line) if rst else _MD_REF_DEF.match(line)):
            continue
        if rst:  # RST's own syntax: in Markdown `|` starts table cells, not substitutions
            line = _RST_DOC_ROLE.sub(lambda m: m.group(1).rstrip("/").rsplit("/", 1)[-1], line)
            line = _RST_ROLE.sub(r"`\1`", line)
            line = _RST_LINK.sub(r"\1", line)
            line = _RST_REF.sub(r"\1", line)
            line = _RST_LITERAL.sub(r"`\1`", line)
            line = _RST_SUBST.sub("", line)
        else:
            line = _MD_IMAGE.sub("", line)
            line = _MD_LINK.sub(r"\1", line)
        line = _HTML.sub("", line)
        line = _EMPHASIS.sub(lambda m: m.group(2) or m.group(3), line)
        if rst and line.rstrip().endswith("::"):
            line = line.rstrip()[:-1]  # "Example::" introduces a literal block: one colon reads right
            literal = True
        out.append(line.rstrip())
    text = "\n".join(out)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def is_autodoc_stub(text: str) -> bool:
    """Directives that pull documentation out of code, with (almost) nothing written around them."""
    if not _AUTODOC.search(text):
        return False
    prose = [ln for ln in text.splitlines() if ln.strip() and not _RST_DIRECTIVE.match(ln)
             and not ln.startswith((" ", "\t"))]
    return approx_tokens(" ".join(prose)) < MIN_SECTION_TOKENS


def clip(text: str) -> str:
    """At most MAX_SECTION_LINES lines and MAX_ANSWER_TOKENS tokens; a code fence cut open is closed."""
    lines = text.splitlines()[:MAX_SECTION_LINES]
    while len(lines) > 1 and approx_tokens("\n".join(lines)) > MAX_ANSWER_TOKENS:
        lines.pop()
    out = "\n".join(lines).rstrip()
    if sum(1 for ln in lines if _FENCE.match(ln)) % 2:
        out += "\n```"
    return out


def sections(text: str, rst: bool) -> list[Section]:
    lines = text.splitlines()
    heads = headings(lines, rst)
    out = []
    for k, (_, body, title) in enumerate(heads):
        end = heads[k + 1][0] if k + 1 < len(heads) else len(lines)
        chunk = lines[body:end]
        while chunk and not chunk[0].strip():
            chunk, body = chunk[1:], body + 1
        while chunk and not chunk[-1].strip():
            chunk = chunk[:-1]
        title = re.sub(r"[*_]{1,2}([^*_]+)[*_]{1,2}", r"\1", title).strip()
        out.append(Section(title, "\n".join(chunk), (body + 1, body + len(chunk))))
    return out


def doc_files(root: Path, ctx: Context) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info") and not (here / d).is_symlink())
        for f in sorted(filenames):
            if f.lower().endswith(SUFFIXES) and not (here / f).is_symlink():
                yield here / f


def changed_docs(root: Path, since: str) -> set[str] | None:
    """Documents changed between `since` and HEAD, or None when the watermark is unusable."""
    try:
        out = git.Git(str(root)).execute(["git", "-c", "core.quotepath=off", "diff", "--name-only", "--no-renames",
                                          since, "HEAD", "--", *(f"*{s}" for s in SUFFIXES)])
    except git.GitCommandError:
        return None
    return {ln for ln in str(out).splitlines() if ln}


class Docs:
    name = NAME

    def run(self, ctx: Context) -> Iterator[Draft]:
        root = ctx.plan.repo
        if root is None or not ctx.plan.docs:
            return
        only = changed_docs(root, ctx.plan.since_commit) if ctx.plan.since_commit else None
        files = [(p, p.relative_to(root).as_posix()) for p in doc_files(root, ctx)]
        ctx.read_paths(NAME, root, only, {rel for _, rel in files})
        for path, rel in files:
            if only is not None and rel not in only:
                continue
            if SKIP_FILES.match(path.name):
                ctx.skips.add(NAME, "changelog_or_licence")
                continue
            text = read_text(path, ctx, NAME, MAX_FILE_BYTES)
            if text is None:
                continue
            rst = path.suffix.lower() == ".rst"
            for sec in sections(text, rst=rst):
                heading = clean(sec.heading, rst).strip(" :")
                if SKIP_HEADINGS.match(heading):
                    ctx.skips.add(NAME, "changelog_or_licence")
                elif BOILERPLATE_HEADINGS.match(heading):
                    ctx.skips.add(NAME, "boilerplate_section")
                elif is_autodoc_stub(sec.text):
                    ctx.skips.add(NAME, "autodoc_stub")
                elif approx_tokens(body := clean(sec.text, rst)) < MIN_SECTION_TOKENS:
                    ctx.skips.add(NAME, "tiny_section")
                else:
                    yield Draft(generator=NAME, task="explain_doc", source=rel, path=rel, lines=sec.lines,
                                messages=(("user", f"Explain {heading} in {rel}."), ("assistant", clip(body))))
