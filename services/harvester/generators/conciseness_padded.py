"""Reverse drills for dense prose: pad a human-written passage with wordiness, ask for it terse,
answer with the passage itself.

Well-kept docs and docstrings are already terse (itsdangerous: 44 of 48 prose paragraphs shrink
by under 5% when their filler is cut), so an extractive drill of them is either not shorter or
shorter by losing a fact. The reverse is correct by construction: the answer is the author's own
text, so it keeps every number, identifier and named entity and ends where the author ended; the
prompt is that text with padding a concise writer removes — the hedging openers, wordy phrases
and padding sentences `conciseness.terse` strips ("It is worth noting that", "in order to",
"due to the fact that", "As you can see, it is quite simple."). Every edit only adds words that
say nothing, never changes or removes one, and a proper noun or `code` is never lower-cased, so
the padded prompt states exactly the facts of the answer. The choice of edits is seeded by the
passage, so a harvest is deterministic.
"""

from __future__ import annotations

import hashlib
import random
import re

from services.harvester.base import approx_tokens

# Sentence openers that add no fact (conciseness._FILLER / _PADDING remove each of them).
OPENERS = ("Note that ", "It is worth noting that ", "Basically, ", "Essentially, ",
           "It should be pointed out that ", "As a matter of fact, ")
# Plain phrase -> its wordy form (the inverse of conciseness._WORDY); applied where the plain
# form is unambiguous: sentence-initial "To"/"If", and the fixed phrases below.
WORDY = (
    (re.compile(r"^To (?=[a-z])"), "In order to "),
    (re.compile(r"^If (?=[a-z])"), "In the event that "),
    (re.compile(r"\bbecause\b"), "due to the fact that"),
    (re.compile(r"\bwhether\b(?! or not)"), "whether or not"),
    (re.compile(r"\b(you|they|we) can\b(?! not)"), r"\1 are able to"),
    (re.compile(r"\bit can\b(?! not)"), "it is able to"),
    (re.compile(r"\beach (?=[a-z]+ (?:is|will|can|must|should|has))"), "each and every "),
    (re.compile(r"\bnow\b"), "at the moment"),
    (re.compile(r"\bseveral\b"), "a number of"),
)
# Padding sentences a terse answer drops (each matches conciseness._PADDING).
TAILS = ("This is worth keeping in mind.", "As you can see, it is quite simple once you know it.",
         "That is basically the gist of it.", "Needless to say, this matters in practice.")
# for a passage the short ones do not make clearly longer
LONG_TAILS = (
    "Needless to say, this matters in practice, and it is well worth keeping in mind whenever you work with it.",
    "As you can see, it is all quite simple once you know it, and that is basically the gist of the whole thing.",
)
# An opener goes only before a sentence that opens on its subject: one of these words, or a noun
# the passage also uses in lower case followed by a verb ("Signatures are ...", never "Python's",
# never an imperative "Use it ..." or a clause that leads to one: "Note that when deploying,
# generate a key" is not English).
_SUBJECTS = frozenset("the a an this that these those it its you your they we there each every some all any one"
                      .split())
_VERBS = frozenset("is are was were can will must should has have does do may could would cannot won't doesn't isn't "
                   "aren't".split())
_CONNECTIVE = re.compile(r"^(?:in fact|for example|for instance|however|so|instead|also|typically|sometimes|"
                         r"occasionally|often|see|then|thus|therefore|otherwise)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z`(])")
MAX_RATIO = 0.8  # the answer is at most this share of the padded prompt's tokens


def _lowered(sentence: str, passage: str) -> str | None:
    """The sentence with its first word lower-cased, or None when that could be a name or code."""
    word = sentence.split(maxsplit=1)[0] if sentence.strip() else ""
    bare = word.rstrip(",.;:")
    if not bare.isalpha() or not bare[:1].isupper() or (len(bare) > 1 and not bare[1:].islower()):
        return None
    low = bare.lower()
    words = sentence.split()
    if _CONNECTIVE.match(sentence) or not (
            low in _SUBJECTS or (len(words) > 1 and words[1] in _VERBS
                                 and re.search(rf"(?<![\w`.]){low}\b", passage))):
        return None
    # a docstring's noun phrase ("A function `(output, spec) -> float` in ...", "The first items of
    # each category: ...") is no clause: "Note that a function in ..." is not English
    head = re.split(r"[:;(]", sentence, maxsplit=1)[0].lower().split()
    if not any(w.strip(",.") in _VERBS for w in head):
        return None
    return low + sentence[len(bare):]


def pad(passage: str) -> str | None:
    """A wordier version of `passage` stating the same facts, or None when too little can be added
    to make the passage at most MAX_RATIO of it."""
    rng = random.Random(hashlib.sha256(passage.encode()).hexdigest())
    sentences = [s for s in _SENTENCE.split(passage.strip()) if s]
    if not sentences:
        return None
    target = approx_tokens(passage) / MAX_RATIO
    order = list(range(len(sentences)))
    rng.shuffle(order)
    out = list(sentences)
    unused = list(OPENERS)
    rng.shuffle(unused)
    for i in order:
        for pattern, wordy in WORDY:
            if pattern.search(out[i]) and rng.random() < 0.7:
                out[i] = pattern.sub(wordy, out[i], count=1)
        if unused and not re.match(r"(?:In order to|In the event that) ", out[i]) and \
                (low := _lowered(out[i], passage)) is not None:
            # each opener once (a passage of "Note that"s reads as a template), and none starting "It "
            # before a sentence that does ("It should be pointed out that it should be ...")
            fits = [o for o in unused if not (o.startswith("It ") and low.startswith("it "))]
            if fits:
                unused.remove(opener := fits[-1])
                out[i] = opener + low
            if len(unused) <= len(OPENERS) - 3:
                unused = []
        if approx_tokens(" ".join(out)) >= target:
            break
    text = " ".join(out)
    if approx_tokens(text) < target:
        short = text + " " + rng.choice(TAILS)
        text = short if approx_tokens(short) >= target else text + " " + rng.choice(LONG_TAILS)
    return text if approx_tokens(text) >= target else None
