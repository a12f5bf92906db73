"""The pieces every generator shares: a `Draft` (an example before it has a category and is
scrubbed), the `Generator` protocol, and the skip counter.

Generators never build `Example`s themselves: `core.harvest` maps each draft's task to the
specialist's category and passes every text through `scrub` in one place, so no generator can
forget to scrub.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from services.harvester.plan import HarvestPlan
from shared.events import ChatMessage, ExampleFormat


@dataclass(frozen=True)
class Draft:
    """One candidate example: chat messages plus where they came from, before category and scrub."""

    generator: str
    task: str  # what it teaches ("explain_function", "diff_review", ...); categories.py maps it
    messages: tuple[tuple[str, str], ...]
    source: str
    commit: str | None = None
    path: str | None = None
    lines: tuple[int, int] | None = None
    session_id: str | None = None
    hint: str | None = None  # refines the category: a commit's class, a session turn's route
    format: ExampleFormat = "chat"
    # A worked rationale behind the answer (logged reasoning, a step-by-step explanation): core
    # renders it with the base model family's think tags (formats.THINK_FAMILIES), or drops the
    # draft when the tokenizer has none. The plain answer is a separate draft.
    thought: str | None = None
    # A whole conversation in OpenAI's shape (tool calls and tool results included), when the draft
    # is multi-turn; `messages` is then its (role, content) projection for transforms that read
    # text. core builds the example from `chat` only while `messages` still matches it, so a
    # transform that rewrites `messages` is never silently undone.
    chat: tuple[ChatMessage, ...] | None = None
    # A verifiable final answer (an executed return value, a computed number): STaR (star.py) keeps
    # a sampled answer for this prompt only when its conclusion states exactly this.
    expected: str | None = None

    @property
    def prompt(self) -> str:
        return next((c for r, c in reversed(self.messages) if r == "user"), "")

    @property
    def answer(self) -> str:
        return next((c for r, c in reversed(self.messages) if r == "assistant"), "")


class Skips:
    """Counts `"<generator>:<reason>"`: bad input is skipped and counted, never raised."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, generator: str, reason: str, n: int = 1) -> None:
        self.counts[f"{generator}:{reason}"] += n


@dataclass
class Context:
    """What a generator may read: the plan, the skip counter, and facts found along the way."""

    plan: HarvestPlan
    skips: Skips
    commit_classes: Counter[str] = field(default_factory=Counter)
    head_commit: str | None = None
    session_hashes: dict[str, str] = field(default_factory=dict)  # session file mined -> its sha256
    # per generator, the repository paths it read again (changed or deleted ones on an incremental
    # run), and the generators that read the whole tree: the corpus retires what no longer holds
    refreshed: dict[str, set[str]] = field(default_factory=dict)
    full_scan: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)  # repository files deleted since the watermark
    outcomes: Counter[str] = field(default_factory=Counter)  # what STaR's samples did, by outcome

    def read_paths(self, generator: str, root: Path, changed: set[str] | None, mined: set[str]) -> None:
        """Record what `generator` read: the `changed` paths on an incremental run, else a full scan."""
        if changed is None:
            self.full_scan.add(generator)
            self.refreshed.setdefault(generator, set()).update(mined)
            return
        present = {p for p in changed if (root / p).exists()}
        self.refreshed.setdefault(generator, set()).update(present)
        self.gone.update(changed - present)


class Generator(Protocol):
    """A source generator: reads the plan's inputs and yields drafts (sorted, deterministic)."""

    name: str

    def run(self, ctx: Context) -> Iterator[Draft]: ...


class Transform(Protocol):
    """A generator over other generators' drafts (conciseness drills, targeted variants)."""

    name: str

    def run(self, drafts: list[Draft], ctx: Context) -> Iterator[Draft]: ...


_TOKEN = re.compile(r"\w+|[^\w\s]")


def read_text(path: Path, ctx: Context, generator: str, max_bytes: int) -> str | None:
    """The file as UTF-8 text, or None with the reason counted: too large, not UTF-8, unreadable."""
    try:
        if path.stat().st_size > max_bytes:
            ctx.skips.add(generator, "too_large")
            return None
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        ctx.skips.add(generator, "not_utf8")
    except OSError:
        ctx.skips.add(generator, "unreadable")
    return None


def approx_tokens(text: str) -> int:
    """Words plus punctuation: close enough to a BPE count to enforce the 10–600 token band."""
    return len(_TOKEN.findall(text))


# Directories that hold other people's code or build output: mining them teaches nothing about
# this system and can swamp it.
SKIP_DIRS = frozenset(
    {
        ".git", ".venv", "venv", "env", ".env", "node_modules", "vendor", "vendored", "third_party",
        "third-party", "site-packages", "__pycache__", "build", "dist", "generated", "_generated",
        ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", "htmlcov",
    }
)


def in_skipped_dir(rel: str | Path) -> bool:
    parts = Path(rel).parts[:-1]
    return any(p in SKIP_DIRS or p.endswith(".egg-info") for p in parts)


def first_paragraph(text: str) -> str:
    return text.strip().split("\n\n", 1)[0].strip()


def clip_lines(text: str, max_lines: int) -> str:
    lines = text.splitlines()
    return text if len(lines) <= max_lines else "\n".join(lines[:max_lines]) + "\n..."

