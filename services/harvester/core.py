"""The harvester's pure core: mine a repo and session logs into scrubbed, categorised examples.

    from services.harvester.core import HarvestPlan, harvest
    result = harvest(HarvestPlan(specialist="coder", repo=Path(".")))

No bus, no globals: the bus adapter (service.py) turns an event into a plan, calls `harvest`,
and publishes `result.examples` in batches with `result.head_commit` as the new watermark.
Source generators yield drafts; transforms derive drafts from drafts; this module then maps
each draft to the specialist's category and scrubs EVERY text once, centrally, before an
`Example` exists, so no generator can leak a secret by forgetting to scrub.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import git

from services.harvester.base import Context, Draft, Generator, Skips, Transform, approx_tokens
from services.harvester.categories import category_for
from services.harvester.errors import HarvestError, UnknownTokenizerFamily
from services.harvester.formats import apply_fim, fim_tokens, render_think, think_family
from services.harvester.generators.affect import Affect
from services.harvester.generators.ast_code import AstCode
from services.harvester.generators.conciseness import Conciseness
from services.harvester.generators.docs import Docs
from services.harvester.generators.exec_reasoning import ExecReasoning
from services.harvester.generators.external import External
from services.harvester.generators.fix_reasoning import FixReasoning
from services.harvester.generators.git_diffs import GitDiffs
from services.harvester.generators.interrupts import Interrupts
from services.harvester.generators.mutants import Mutants
from services.harvester.generators.planning import Planning
from services.harvester.generators.record_math import RecordMath
from services.harvester.generators.repo_tests import RepoTests
from services.harvester.generators.self_description import SelfDescription
from services.harvester.generators.sessions import Sessions
from services.harvester.generators.targeted import Targeted
from services.harvester.generators.tool_specs import ToolSpecs
from services.harvester.plan import ExternalSource, HarvestPlan
from services.harvester.star import star
from services.harvester.teacher import teach
from shared.events import ChatMessage, Example, Provenance
from shared.scrub import scrub
from shared.specialists import specialists

__all__ = ["ExternalSource", "HarvestError", "HarvestPlan", "HarvestResult", "UnknownTokenizerFamily", "harvest"]

# The source generators every harvest runs, in order. A new generator is one module under
# generators/ (a class with `name` and `run(ctx)` yielding Drafts), one entry here, its task names
# in categories.TASKS, and a mapping of those tasks in the specialist file.
SOURCES: tuple[Callable[[], Generator], ...] = (
    AstCode, GitDiffs, Sessions, ToolSpecs, Docs, External,
    # issue 11, "every category fed": one module each
    ExecReasoning, Affect, SelfDescription, FixReasoning, Planning, Interrupts, RepoTests, Mutants,
    RecordMath,
)

MIN_ANSWER_TOKENS = 10
MAX_ANSWER_TOKENS = 600


@dataclass
class HarvestResult:
    examples: list[Example]
    by_generator: dict[str, int]  # examples emitted per generator
    skipped: dict[str, int]  # "<generator>:<reason>" -> count
    scrubbed: dict[str, int]  # secret kind -> count replaced
    head_commit: str | None  # the new watermark for the repo
    by_category: dict[str, int] = field(default_factory=dict)
    commit_classes: dict[str, int] = field(default_factory=dict)  # bugfix|refactor|feature|test|docs|other
    session_hashes: dict[str, str] = field(default_factory=dict)  # session file mined this run -> its sha256
    refreshed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # generator -> repo paths read again
    full_scan: tuple[str, ...] = ()  # generators that read the whole tree
    gone: tuple[str, ...] = ()  # repo paths deleted since the watermark
    outcomes: dict[str, int] = field(default_factory=dict)  # "star:solved" ...: what the model-asking steps did


def validate(plan: HarvestPlan) -> None:
    """Raise HarvestError naming the field and what to do, before any mining starts."""
    if plan.specialist not in specialists():
        raise HarvestError(f"`specialist` {plan.specialist!r} is not one of {list(specialists().names)}"
                           f" (loaded from {specialists().source})")
    spec = plan.specialist
    if plan.repo is None and plan.sessions is None and not plan.tool_specs and not plan.external:
        raise HarvestError(f"harvest plan for {spec} has neither `repo` nor `sessions` (nor `tool_specs` or"
                           " `external`): give at least one")
    if plan.repo is not None:
        if not Path(plan.repo).is_dir():
            raise HarvestError(f"`repo` {plan.repo} does not exist or is not a directory")
        try:
            repo = git.Repo(plan.repo)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError):
            raise HarvestError(
                f"`repo` {plan.repo} is not a git repository (no .git there); pass the root of a clone"
            ) from None
        if repo.bare:
            raise HarvestError(f"`repo` {plan.repo} is a bare repository; the harvester needs a work tree")
    if plan.sessions is not None and not Path(plan.sessions).exists():
        raise HarvestError(f"`sessions` {plan.sessions} does not exist (give a .jsonl/.json file or a directory)")
    for p in plan.tool_specs:
        if not Path(p).exists():
            raise HarvestError(f"`tool_specs` entry {p} does not exist (give a .json file or a directory of them)")
    for src in plan.external:
        src.validate()
    if plan.max_commits < 1:
        raise HarvestError(f"`max_commits` must be at least 1, got {plan.max_commits}")
    if not 0.0 <= plan.fim_share <= 1.0:
        raise HarvestError(f"`fim_share` must be within [0, 1], got {plan.fim_share}")
    if plan.tokenizer_dir is not None and not Path(plan.tokenizer_dir).is_dir():
        raise HarvestError(f"`tokenizer_dir` {plan.tokenizer_dir} is not a directory")


def _scrub_all(text: str | None, scrubbed: Counter[str]) -> str | None:
    if text is None:
        return None
    clean, counts = scrub(text)
    scrubbed.update(counts)
    return clean


def _scrub_message(m: ChatMessage, scrubbed: Counter[str]) -> ChatMessage:
    """A multi-turn message scrubbed like any text: its content and each tool call's arguments."""
    calls = None if m.tool_calls is None else tuple(
        c.model_copy(update={"function": c.function.model_copy(
            update={"arguments": _scrub_all(c.function.arguments, scrubbed) or "{}"})})
        for c in m.tool_calls)
    return m.model_copy(update={"content": _scrub_all(m.content, scrubbed) or "", "tool_calls": calls})


def build_example(d: Draft, spec: str, category: str, scrubbed: Counter[str]) -> Example:
    """The one place a draft becomes an Example: every message and provenance text is scrubbed here."""
    if d.chat is not None and tuple((m.role, m.content) for m in d.chat) == d.messages:
        messages = [_scrub_message(m, scrubbed) for m in d.chat]
    else:
        messages = [ChatMessage(role=r, content=_scrub_all(c, scrubbed) or "") for r, c in d.messages]  # type: ignore[arg-type]
    provenance = Provenance(
        source=_scrub_all(d.source, scrubbed) or "",
        commit=_scrub_all(d.commit, scrubbed),
        path=_scrub_all(d.path, scrubbed),
        lines=d.lines,
        session_id=_scrub_all(d.session_id, scrubbed),
    )
    return Example.build(specialist=spec, category=category, generator=d.generator, messages=messages,
                         provenance=provenance, format=d.format)


def harvest(plan: HarvestPlan, sources: tuple[Generator, ...] | None = None) -> HarvestResult:
    """Mine `plan`'s sources into examples for `plan.specialist`; bad inputs are skipped and counted."""
    validate(plan)
    spec = plan.specialist
    # Resolved before mining so an unusable tokenizer fails in milliseconds, not after the harvest.
    fim = fim_tokens(plan.tokenizer_dir) if plan.tokenizer_dir is not None and plan.fim_share > 0 else None
    think = think_family(plan.tokenizer_dir)
    ctx = Context(plan=plan, skips=Skips())
    drafts: list[Draft] = []
    for gen in sources if sources is not None else tuple(make() for make in SOURCES):
        drafts.extend(gen.run(ctx))
    transforms: list[Transform] = []
    if category_for("concise_rewrite", spec) is not None:
        transforms.append(Conciseness())
    for t in transforms:
        drafts.extend(list(t.run(drafts, ctx)))
    if plan.weak_categories:
        drafts.extend(list(Targeted().run(drafts, ctx)))
    if plan.teacher is not None:
        drafts.extend(teach(drafts, plan.teacher, ctx.skips))
    if plan.star is not None:
        drafts.extend(star(drafts, plan.star, ctx.outcomes))

    scrubbed: Counter[str] = Counter()
    seen: set[str] = set()
    examples: list[Example] = []
    for d in drafts:
        category = category_for(d.task, spec, d.hint)
        if category is None:
            ctx.skips.add(d.generator, f"not_for_{spec}")
            continue
        if d.thought is not None:
            if think is None:  # no think tokens in this base model: no wrong tags (the plain draft stays)
                ctx.skips.add("think", "unsupported_tokenizer")
                continue
            d = render_think(d, think)
        tokens = approx_tokens(d.answer)
        if tokens < MIN_ANSWER_TOKENS or tokens > MAX_ANSWER_TOKENS:
            ctx.skips.add(d.generator, "answer_too_short" if tokens < MIN_ANSWER_TOKENS else "answer_too_long")
            continue
        ex = build_example(d, spec, category, scrubbed)
        if ex.id in seen:
            ctx.skips.add(d.generator, "duplicate")
            continue
        seen.add(ex.id)
        examples.append(ex)
    examples = apply_fim(examples, fim, plan.fim_share, ctx.skips)

    return HarvestResult(
        examples=examples,
        by_generator=dict(sorted(Counter(e.generator for e in examples).items())),
        skipped=dict(sorted(ctx.skips.counts.items())),
        scrubbed=dict(sorted(scrubbed.items())),
        head_commit=ctx.head_commit,
        by_category=dict(sorted(Counter(e.category for e in examples).items())),
        commit_classes=dict(sorted(ctx.commit_classes.items())),
        session_hashes=dict(sorted(ctx.session_hashes.items())),
        refreshed={g: tuple(sorted(p)) for g, p in sorted(ctx.refreshed.items())},
        full_scan=tuple(sorted(ctx.full_scan)),
        gone=tuple(sorted(ctx.gone)),
        outcomes=dict(sorted(ctx.outcomes.items())),
    )
