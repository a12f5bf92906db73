"""Prose → verbose-to-terse rewrite drills: the repo's documentation and other generators' answers.

Sources: every prose paragraph and list item of the repository's Markdown/RST documents and of
its Python docstrings (module, class, function: RST-ish prose too), cleaned as the docs generator
cleans them, so no markup reaches the prompt (code blocks, tables and the sections docs skips —
changelogs, licences, boilerplate, autodoc stubs — are left out); and the prose answers of the
other generators (session answers included; docs sections are not taken twice). The prompt
shows the source text; the answer is its terse version.

The terse side is extractive, so it only ever says what the source said: filler words and wordy
phrases out, asides that carry no fact out (a parenthesis, a dash aside, a ", which ..." clause),
then per paragraph its lead sentence and every later sentence, unless it states no new fact and
is padding (hedges, asides to the reader) or says again what the kept text says: a sentence of
written docs with no number or name in it can still be the point, so it stays. A drill teaches
brevity, not loss: the terse answer must keep every number, identifier (`code`, dotted /
snake_case / CamelCase / hyphenated / alphanumeric names, paths), quoted term and named entity of
the source, and end on a finished sentence (not mid-sentence, not on a ":" whose list was cut);
otherwise it is rejected and counted. A source that does not shrink to at most MAX_RATIO of its
length is not a drill and is counted as skipped. A docs passage that is already dense (most
well-kept docs) becomes a reverse drill instead (conciseness_padded): the passage padded with
wordiness these rules remove, answered by the passage itself, so the answer is the author's text.
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterator
from pathlib import Path

from services.harvester.base import SKIP_DIRS, Context, Draft, approx_tokens, read_text
from services.harvester.generators import ast_code, conciseness_padded, docs

NAME = "conciseness"
MIN_SOURCE_TOKENS = 30
# Docs prose is dense: cutting a fifth while every fact stays is already a real rewrite.
MAX_RATIO = 0.8
MAX_LIST_ITEMS = 4
PROMPT = "Rewrite this answer to be as concise as possible while keeping every fact that matters:\n\n"
DOC_PROMPT = "Rewrite this passage of {path} as tersely as possible, keeping every number, name and identifier:\n\n"
# a padded passage (conciseness_padded) is no longer the file's text: the prompt does not say it is
PADDED_PROMPT = "Rewrite this as tersely as possible, keeping every number, name and identifier:\n\n"
MAX_PY_BYTES = 1_000_000
_RST_MARKUP = re.compile(r":[\w:+-]+:`|``|^\s*\.\. ", re.MULTILINE)

_FENCE = re.compile(r"```.*?```", re.DOTALL)
_FILLER = re.compile(
    r"^(?:sure|certainly|of course|absolutely|great question|good question|okay|ok|alright)[!,.]*\s*"
    r"|\b(?:basically|essentially|actually|really|just|simply|very|quite|of course),?\s+"
    r"|\b(?:I think|I believe|it seems that|it is worth noting that|it should be pointed out that|note that|"
    r"as a matter of fact,|as you can see,?)\s*"
    r"|^(?:let me|I'll|I will|here is|here's)\b[^.:\n]*[:.]\s*",
    re.IGNORECASE | re.MULTILINE,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(])")
_LIST = re.compile(r"^\s*(?:[-*]|\d+[.)])\s+")
_FIELD = re.compile(r"^\s*:[\w ]+:")

_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,:]\d+)*%?")
_QUOTED = re.compile(r'"([^"\n]{1,80})"')  # a quoted word or phrase is the exact term the source used
_CODE = re.compile(r"`[^`\n]*`")
_IDENT = re.compile(r"`([^`\n]+)`|\b(\w+(?:[./]\w+)+|[a-z0-9]+(?:_[a-z0-9]+)+|_\w+|[a-z]+[A-Z]\w*"
                    r"|[A-Z][a-z0-9]+[A-Z]\w*|[a-z0-9]+(?:-[a-z0-9]+)+|[A-Za-z]+\d\w*)\b")
_CAP = re.compile(r"\b[A-Z][\w-]*[a-z0-9][\w-]*\b|\b[A-Z]{2,}[\w-]*\b")
_ENDS = (".", "!", "?", "`", ")", '"', "'", "]")

# Wordy phrases and their plain forms: the same meaning in fewer words.
_WORDY = tuple((re.compile(p, re.IGNORECASE), r) for p, r in (
    (r"\bin order to\b", "to"), (r"\b(is|are) able to\b", "can"), (r"\bdue to the fact that\b", "because"),
    (r"\ba number of\b", "several"), (r"\bat the moment\b", "now"), (r"\bas well as\b", "and"),
    (r"\beach and every\b", "each"), (r"\bin the case of\b", "for"), (r"\bwith the help of\b", "with"),
    (r"\bfor the purpose of\b", "for"), (r"\bprior to\b", "before"), (r"\bwhether or not\b", "whether"),
    (r"\bit is possible to\b", "you can"), (r"\bin addition to\b", "besides"), (r"\bin the event that\b", "if")))
_OPENER = re.compile(r"^(?:for example|for instance|in practice|in other words|in short|in general|in addition|"
                     r"also|moreover|furthermore|of course|meanwhile),\s+", re.IGNORECASE)
# Asides: removed only when the sentence keeps every fact without them (checked per removal).
_ASIDES = (
    re.compile(r"\s+\([^()]*\)"),  # a parenthesis (not a call's arguments: `len(x)`)
    re.compile(r"\s+(?:—|--)\s+[^—]*?\s+(?:—|--)(?=\s)"),  # a dash aside (a trailing one is the point)
    re.compile(r",\s+(?:on the other hand|in turn|in fact|by contrast|of course|however|therefore|thus),(?=\s)"),
    re.compile(r",\s+(?:which|who)\b[^,;()]*(?=,)"),  # ", which ...," in the middle
    re.compile(r",\s+(?:which|meaning|making|leaving|letting|giving)\b[^,;]*?(?=[.!?]?$)"),  # ... at the end
)

# A sentence that only pads: hedges, asides to the reader, praise of the obvious.
_PADDING = re.compile(r"\b(?:as you can see|the gist|worth (?:noting|remembering|keeping in mind|"
                      r"mentioning)|needless to say|obviously|clearly|to be honest|at the end of the day|"
                      r"the whole thing|which is nice|hope this helps|let me know)\b", re.IGNORECASE)
# Hedge words pad a sentence only when little else is in it: "Note that the trigger is basically
# coalesced into one run" is a fact with a filler word (the filler goes, the sentence stays).
_LEAD_FILLER = re.compile(r"^(?:note that|it is worth noting that|it should be pointed out that|as a matter of fact,|"
                          r"basically,|essentially,)\s*", re.IGNORECASE)
_HEDGE = re.compile(r"\b(?:really|quite|basically|essentially)\b", re.IGNORECASE)
_WORD = re.compile(r"[A-Za-z][a-z]{3,}")
_EXAMPLE_ASIDE = re.compile(r"(?:like|such as|e\.g\.|i\.e\.|for (?:example|instance)|including|namely)\b",
                            re.IGNORECASE)
_STOP = frozenset("""this that these those there their them they then than what when where which while with
without within from into onto over under also only just each every both either neither some such very more
most much many other another same have has had having been being were will would could should does done
doing make makes made about after before again because here your yours itself whose""".split())
_GOVERNED = re.compile(r"\b(?:by|of|per|in|on|at|to|for|from|with|as|is|are|was|were|be|the|a|an|and|or|under|"
                       r"into|than|between|named|called)$", re.IGNORECASE)


def facts(text: str) -> set[str]:
    """Numbers, identifiers and named entities (capitalised words not opening a sentence)."""
    text = _FENCE.sub("", text)
    out = set(_NUMBER.findall(text)) | set(_QUOTED.findall(text))
    for m in _IDENT.finditer(text):
        out.add(m.group(1) or m.group(2))
    for sentence in _SENTENCE.split(text):
        for line in sentence.splitlines():
            body = _LIST.sub("", line).strip()
            words = body.split(maxsplit=1)
            if len(words) == 2:  # the first word of a sentence or item is capitalised anyway
                out.update(_CAP.findall(words[1]))
    return {f.strip() for f in out if f.strip()}


def missing_facts(source: str, short: str) -> set[str]:
    return {f for f in facts(source) if f not in short}


def ends_cleanly(text: str) -> bool:
    """A finished sentence or a list item; not a dangling ":" or a cut-off clause."""
    last = text.rstrip().splitlines()[-1].strip() if text.strip() else ""
    if not last or last.endswith(":"):
        return False
    return bool(_LIST.match(last)) or last.endswith(_ENDS)


def _balanced(text: str) -> bool:
    return text.count("(") == text.count(")") and text.count("`") % 2 == 0 and text.count('"') % 2 == 0


def _keeps(sentence: str, shorter: str) -> bool:
    return all(f in shorter for f in facts(sentence)) and len(shorter.split()) >= 4 and _balanced(shorter)


def _capitalised(text: str) -> str:
    # "vLLM", "`code`" and "iOS" stay as written: only a plain lowercase word is capitalised
    word = text.split(maxsplit=1)[0] if text.strip() else ""
    return text[:1].upper() + text[1:] if word.isalpha() and word.islower() else text


def _empty_aside(aside: str, rest: str) -> bool:
    """An aside carries no fact when it names no example ("like systemd", "for example, ... pickle")
    and adds at most one word the rest of the sentence lacks ("(which is cheap)"): ", which serializes
    the object to a string then signs that" is the mechanism, not an aside, and stays."""
    body = aside.strip(" ,()—-")
    if _EXAMPLE_ASIDE.match(body):
        return False
    seen = {w.lower() for w in _WORD.findall(rest)}
    return len({w.lower() for w in _WORD.findall(body)} - _STOP - seen) <= 1


def tighten(sentence: str) -> str:
    """The sentence without wordy phrases, a linking opener and asides that carry no fact."""
    end = sentence[-1] if sentence[-1:] in ".!?" else ""
    s = sentence
    for pattern, plain in _WORDY:
        cand = pattern.sub(plain, s)
        s = cand if _keeps(sentence, cand) else s
    if sentence[:1].isupper():  # "In order to keep ..." -> "To keep ...", not "to keep ..."
        s = _capitalised(s)
    for pattern in _ASIDES:
        changed = True
        while changed:
            changed = False
            code = [c.span() for c in _CODE.finditer(s)]
            for m in reversed(list(pattern.finditer(s))):
                if any(a < m.end() and m.start() < b for a, b in code):
                    continue  # never inside or across `code`: it is quoted exactly
                before = s[:m.start()].rstrip()
                if not before or _GOVERNED.search(before) or not (before[-1].isalnum() or before[-1] in ")]`'\""):
                    continue  # "the hash of (a, b)", "name → (a, b)": the object, not an aside
                cand = re.sub(r"\s+([,.;:!?])", r"\1", s[:m.start()] + s[m.end():]).strip()
                if _keeps(sentence, cand) and _empty_aside(m.group(0), cand):
                    s, changed = cand, True
                    break
    if (m := _OPENER.match(s)) and _keeps(sentence, s[m.end():]):
        s = _capitalised(s[m.end():])
    s = s.rstrip(" ,;")
    return s.rstrip(".!?") + end if end and not s.endswith(end) else s


def droppable(sentence: str, said: str) -> bool:
    """A later sentence with no new fact that is padding or says again what `said` says. A sentence
    with no number or name can still carry the point ("... so nothing is lost"): it stays."""
    # "It is worth noting that the data is signed" is a fact behind an opener: the opener goes
    # (_FILLER), the sentence is judged without it
    unopened = _LEAD_FILLER.sub("", sentence)
    # "I think", "really" say nothing: the words that count are the rest
    words = {w.lower() for w in _WORD.findall(_FILLER.sub("", unopened))} - _STOP
    seen = {w.lower() for w in _WORD.findall(said)}
    if _PADDING.search(unopened) or (_HEDGE.search(sentence) and len(words - seen) <= 2):
        return True
    return not words or len(words - seen) <= len(words) / 3


def terse(answer: str) -> str:
    """Extractive short form: per paragraph its lead sentence, and each later sentence or list item
    unless it states no new fact and is padding or a restatement; each tightened; filler words out."""
    out: list[str] = []
    covered: set[str] = set()
    for para in re.split(r"\n\s*\n", _FENCE.sub("", answer)):
        lines = [ln for ln in para.strip().splitlines() if ln.strip()]
        if not lines:
            continue
        items = [ln for ln in lines if _LIST.match(ln)]
        if items and len(items) >= len(lines) - 1:
            kept = [ln for ln in lines if not _LIST.match(ln)]
            kept += [ln for ln in items if facts(ln) - covered or len(items) <= MAX_LIST_ITEMS]
            for ln in kept:
                covered |= facts(ln)
            out.append("\n".join(_FILLER.sub("", ln).strip() for ln in kept))
            continue
        text = " ".join(ln.strip() for ln in lines)
        sentences = [x.strip() for x in _SENTENCE.split(text) if x.strip()]
        kept_s: list[str] = []
        for sentence in sentences:
            # judged as written (its hedges show padding), kept without the filler words
            if not kept_s or facts(sentence) - covered or not droppable(sentence, " ".join(kept_s)):
                if plain := _FILLER.sub("", sentence).strip():
                    # "Sure! Basically, the promoter ..." → "The promoter ...", but "bugfix | ..." stays
                    kept_s.append(tighten(_capitalised(plain) if plain != sentence else plain))
                covered |= facts(sentence)
        if kept_s:
            out.append(" ".join(kept_s))
    return "\n".join(out).strip()


# ---------------------------------------------------------------------- docs prose


def prose_units(text: str) -> list[str]:
    """The prose of a cleaned docs section: each paragraph, and each list item on its own (its
    continuation lines joined); code blocks, tables, indented literal blocks and headings left out."""
    units: list[str] = []
    for para in re.split(r"\n\s*\n", _FENCE.sub("", text)):
        lines = [ln for ln in para.splitlines() if ln.strip()]
        if not lines or lines[0].startswith((" ", "\t", "|", "#")) or lines[0].lstrip().startswith(("```", "~~~")):
            continue
        if _FIELD.match(lines[0]):
            continue  # ":param x: ..." field lists are reference, not prose to rewrite
        items: list[list[str]] = []
        for ln in lines:
            if _LIST.match(ln) or not items:
                items.append([])
            items[-1].append(ln.strip())
        units += [_LIST.sub("", " ".join(it)).strip() for it in items]
    return [u for u in units if u]


def doc_sources(ctx: Context) -> Iterator[tuple[str, tuple[int, int], str]]:
    """(path, section lines, prose) for every prose unit the docs generator would explain."""
    root = ctx.plan.repo
    if root is None or not ctx.plan.docs:
        return
    only = docs.changed_docs(root, ctx.plan.since_commit) if ctx.plan.since_commit else None
    files = list(docs.doc_files(root, ctx))
    # what this generator read, so an incremental harvest retires drills of changed or deleted docs
    ctx.read_paths(NAME, root, only, {p.relative_to(root).as_posix() for p in files})
    for path in files:
        rel = path.relative_to(root).as_posix()
        if (only is not None and rel not in only) or docs.SKIP_FILES.match(path.name):
            continue
        text = read_text(path, ctx, NAME, docs.MAX_FILE_BYTES)
        if text is None:
            continue
        rst = path.suffix.lower() == ".rst"
        for sec in docs.sections(text, rst=rst):
            heading = docs.clean(sec.heading, rst).strip(" :")
            if (docs.SKIP_HEADINGS.match(heading) or docs.BOILERPLATE_HEADINGS.match(heading)
                    or docs.is_autodoc_stub(sec.text)):
                continue  # the docs generator counts these
            for unit in prose_units(docs.clean(sec.text, rst)):
                yield rel, sec.lines, unit


def python_files(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        here = Path(dirpath)
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                             and not d.endswith(".egg-info") and not (here / d).is_symlink())
        yield from (here / f for f in sorted(filenames) if f.endswith(".py") and not (here / f).is_symlink())


def docstring_sources(ctx: Context) -> Iterator[tuple[str, tuple[int, int], str]]:
    """(path, lines of the documented node, prose) for every prose unit of a docstring."""
    root = ctx.plan.repo
    if root is None or not ctx.plan.docs:
        return
    only = ast_code.changed_paths(root, ctx.plan.since_commit) if ctx.plan.since_commit else None
    files = list(python_files(root))
    ctx.read_paths(NAME, root, only, {p.relative_to(root).as_posix() for p in files})
    for path in files:
        rel = path.relative_to(root).as_posix()
        if only is not None and rel not in only:
            continue
        text = read_text(path, ctx, NAME, MAX_PY_BYTES)
        try:
            tree = ast.parse(text) if text is not None else None
        except (SyntaxError, ValueError):
            tree = None  # ast_code counts unparsable files
        if tree is None:
            continue
        defs = ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        nodes = [tree, *(n for n in ast.walk(tree) if isinstance(n, defs))]
        for node in nodes:
            doc = ast.get_docstring(node)
            if doc:
                lines = (getattr(node, "lineno", 1), getattr(node, "end_lineno", None) or len(text.splitlines()))
                # RST only where it shows: in plain docstrings `a | b` is text, not a substitution
                for unit in prose_units(docs.clean(doc, rst=bool(_RST_MARKUP.search(doc)))):
                    yield rel, lines, unit


# ---------------------------------------------------------------------- the transform


def doc_drill(unit: str, ctx: Context) -> tuple[str, str, bool] | None:
    """(prompt text, terse answer, padded?) for a docs passage: its extractive drill when it is
    wordy, else the reverse drill (conciseness_padded): the passage padded, answered by itself."""
    short = terse(unit)
    if short and approx_tokens(short) <= MAX_RATIO * approx_tokens(unit) and not missing_facts(unit, short) \
            and ends_cleanly(short):
        return unit, short, False
    if not ends_cleanly(unit):
        ctx.skips.add(NAME, "ends_mid_sentence")  # the author's own text is the answer: it must be finished
        return None
    padded = conciseness_padded.pad(unit)
    if padded is None:
        ctx.skips.add(NAME, "not_paddable")  # too long for the padding to make it clearly shorter
        return None
    if terse(padded) != unit:
        # the drill must be exactly what the rules above undo: a passage they would also cut ("very",
        # a "For example," opener) would teach the model to cut what the author wrote
        ctx.skips.add(NAME, "padding_not_reversible")
        return None
    return padded, unit, True


def drill(source: str, ctx: Context) -> str | None:
    """The terse version of `source`, or None with the reason counted."""
    short = terse(source)
    if not short or approx_tokens(short) > MAX_RATIO * approx_tokens(source):
        ctx.skips.add(NAME, "not_compressible")
        return None
    if missing_facts(source, short):
        ctx.skips.add(NAME, "drops_a_fact")  # shorter by losing what matters is not concise
        return None
    if not ends_cleanly(short):
        ctx.skips.add(NAME, "ends_mid_sentence")
        return None
    return short


def _is_prose(text: str) -> bool:
    # Code and JSON answers are already exact; shortening them would break them.
    return not text.lstrip().startswith(("```", "{", "[")) and approx_tokens(text) >= MIN_SOURCE_TOKENS


class Conciseness:
    name = NAME

    def run(self, drafts: list[Draft], ctx: Context) -> Iterator[Draft]:
        for rel, lines, unit in [*doc_sources(ctx), *docstring_sources(ctx)]:
            if _is_prose(unit) and (got := doc_drill(unit, ctx)) is not None:
                text, short, padded = got
                ask = PADDED_PROMPT if padded else DOC_PROMPT.format(path=rel)
                yield Draft(generator=NAME, task="concise_rewrite", source=rel, path=rel, lines=lines,
                            messages=(("user", ask + text), ("assistant", short)))
        for d in drafts:
            # a think draft repeats its plain draft's answer; a docs section is drilled paragraph by
            # paragraph above, from the file
            if d.thought is not None or d.generator == docs.NAME or not _is_prose(d.answer):
                continue
            if (short := drill(d.answer, ctx)) is not None:
                yield Draft(generator=NAME, task="concise_rewrite", source=d.source, commit=d.commit, path=d.path,
                            lines=d.lines, session_id=d.session_id,
                            messages=(("user", PROMPT + d.answer), ("assistant", short)))

