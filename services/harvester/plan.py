"""What one harvest mines: the plan, its inputs, and the one place a plan is built.

Generators read the plan (through `base.Context`), the core validates and runs it, and both the
harvester service and `ouro harvest` build it with `build_plan` from the same settings, so the
two never disagree on a default. This module imports no other harvester module but `errors`,
so the generators' interface and the core can both import it without a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from services.harvester.errors import HarvestError
from services.harvester.settings import HarvesterSettings
from shared.chat_client import ChatEndpoint
from shared.settings import CommonSettings
from shared.specialists import specialists


@dataclass(frozen=True)
class ExternalSource:
    path: Path
    category: str  # a category of a specialist (shared/specialists.yaml)
    specialist: str | None = None  # None: every specialist that has `category`
    limit: int | None = None  # at most this many rows

    def validate(self) -> None:
        if not Path(self.path).exists():
            raise HarvestError(f"external source {self.path} does not exist")
        owners = [s for s, p in specialists().profiles.items() if self.category in p.categories]
        if not owners:
            known = sorted(specialists().all_categories())
            raise HarvestError(f"external source {self.path}: category {self.category!r} is not one of {known}")
        if self.specialist is not None and self.specialist not in owners:
            raise HarvestError(f"external source {self.path}: {self.specialist} has no category {self.category!r}; "
                               f"it belongs to {', '.join(owners)}")
        if self.limit is not None and self.limit < 1:
            raise HarvestError(f"external source {self.path}: `limit` must be at least 1, got {self.limit}")



@dataclass(frozen=True)
class TeacherConfig:
    """The optional teacher model (teacher.py): where it is and how much of it one harvest may use."""

    endpoint: ChatEndpoint
    budget: int = 200  # requests per harvest
    rate_per_s: float = 2.0
    max_tokens: int = 512
    tasks: tuple[str, ...] = ()  # only drafts of these tasks; empty: every chat draft
    generator: str = "teacher"  # the name its drafts carry (the judge's generator_weights key)


@dataclass(frozen=True)
class ChampionFacts:
    """One champion as the registry records it (ChampionRecord), reduced to what self-description states."""

    checkpoint_id: str
    overall: float
    categories: tuple[tuple[str, float], ...]  # category -> score on its suite, sorted by name
    promoted_at: str  # ISO date-time
    reason: str = "promoted"  # promoted | rollback


@dataclass(frozen=True)
class DecisionFacts:
    """The promoter's latest decision about this specialist (promoted or rejected) and why."""

    checkpoint_id: str
    promoted: bool
    overall: float
    reasons: tuple[str, ...] = ()
    weak_categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class LoopRecord:
    """The loop's own record of one specialist: the ground truth its self-description states.

    Pure data, so the generator stays a pure function: the harvester service fills it from the
    registry (champion, earlier champions, decisions), the judge's corpus manifest and the weak
    categories fed back; `ouro harvest` from what a machine without a loop has (the specialist
    file and the base model's config). Empty fields mean "not known here", never "zero"."""

    specialist: str
    base_model: str  # the configured name (OURO_BASE_MODEL)
    categories: tuple[tuple[str, float | None], ...]  # the specialist file's categories and target shares
    promotion: tuple[tuple[str, object], ...] = ()  # the promoter's bar, from the specialist file
    training: tuple[tuple[str, object], ...] = ()  # LoRA / SFT settings, from the specialist file
    model_card: tuple[tuple[str, object], ...] = ()  # the base model's config.json: type, layers, context
    champion: ChampionFacts | None = None  # None: no adapter promoted yet, the bare base model serves
    history: tuple[ChampionFacts, ...] = ()  # earlier champions, oldest first
    last_decision: DecisionFacts | None = None
    corpus: tuple[tuple[str, int], ...] = ()  # corpus statistics: "live", "retired", "version", ...
    weak_categories: tuple[str, ...] = ()  # fed back by the promoter, to be harvested more
    # from the specialist file: task -> category it feeds, cadence, routing rule, example length band
    tasks: tuple[tuple[str, str], ...] = ()
    cadence: tuple[tuple[str, object], ...] = ()
    routing: tuple[tuple[str, object], ...] = ()
    tokens: tuple[tuple[str, object], ...] = ()
    # the evaluation suite: category -> (prompt count, ((scorer type, count), ...))
    suite: tuple[tuple[str, int, tuple[tuple[str, int], ...]], ...] = ()


_CARD_KEYS = ("model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", "vocab_size",
              "max_position_embeddings",
              # the shapes record_math computes adapter and cache sizes from
              "num_key_value_heads", "intermediate_size", "head_dim", "tie_word_embeddings")


def config_record(specialist: str, base_model: str, model_dir: Path | None = None) -> LoopRecord:
    """The record before (or without) a loop: the specialist file and the base model's config.json."""
    import json

    prof = specialists().profiles[specialist]
    card: tuple[tuple[str, object], ...] = ()
    if model_dir is not None and (Path(model_dir) / "config.json").is_file():
        try:
            cfg = json.loads((Path(model_dir) / "config.json").read_text(encoding="utf-8"))
            card = tuple((k, cfg[k]) for k in _CARD_KEYS if isinstance(cfg.get(k), str | int))
        except (OSError, ValueError):
            card = ()
    scalars = (bool, int, float, str)
    return LoopRecord(
        specialist=specialist, base_model=base_model,
        categories=tuple((c, prof.mix.get(c)) for c in prof.categories),
        promotion=tuple((k, v) for k, v in prof.promotion.model_dump().items() if isinstance(v, scalars)),
        training=tuple((k, v) for k, v in prof.training.model_dump().items() if isinstance(v, scalars)),
        model_card=card,
        tasks=tuple(sorted(prof.tasks.items())),
        cadence=tuple((k, v) for k, v in prof.cadence.model_dump().items() if isinstance(v, scalars)),
        routing=(() if prof.routing is None else tuple(
            (k, tuple(v) if isinstance(v, list | tuple) else v) for k, v in prof.routing.model_dump().items())),
        tokens=tuple((k, v) for k, v in prof.tokens.model_dump().items() if isinstance(v, scalars)),
        suite=suite_facts(prof.suite_dir, prof.categories),
    )


def suite_facts(suite_dir: Path,
                categories: tuple[str, ...]) -> tuple[tuple[str, int, tuple[tuple[str, int], ...]], ...]:
    """Per category of the evaluation suite: how many prompts and how they are scored. A file that
    cannot be read says nothing (the record then does not know), never a wrong count."""
    import json
    from collections import Counter

    out = []
    for cat in categories:
        try:
            rows = [json.loads(ln) for ln in (Path(suite_dir) / f"{cat}.jsonl").read_text(encoding="utf-8").splitlines()
                    if ln.strip()]
        except (OSError, ValueError):
            continue
        scorers = [r.get("scorer") if isinstance(r, dict) else None for r in rows]
        kinds = Counter(str(s.get("type", "unknown")) if isinstance(s, dict) else "unknown" for s in scorers)
        out.append((cat, len(rows), tuple(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0])))))
    return tuple(out)


@dataclass(frozen=True)
class StarConfig:
    """STaR (star.py): the champion's endpoint and how many verifiable prompts one harvest samples."""

    endpoint: ChatEndpoint
    k: int = 4  # samples per prompt before the hinted try
    budget: int = 40  # prompts per harvest
    temperature: float = 0.8
    max_tokens: int = 384
    rate_per_s: float = 4.0


@dataclass(frozen=True)
class HarvestPlan:
    specialist: str
    repo: Path | None = None  # a git work tree
    sessions: Path | None = None  # a session log file or a directory of them
    weak_categories: tuple[str, ...] = ()  # targeted regeneration: produce more of these
    since_commit: str | None = None  # watermark: mine only commits after this sha (None: last max_commits)
    max_commits: int = 500
    fim_share: float = 0.3
    # base model tokenizer dir, used for FIM/think special tokens; None: `<think>` tags, FIM off
    tokenizer_dir: Path | None = None
    tool_specs: tuple[Path, ...] = ()  # MCP tools/list or OpenAI function-schema JSON files (or dirs of them)
    docs: bool = True  # mine the repo's Markdown/RST sections
    mutant_budget_s: float = 240.0  # seconds for bugs run against the repo's own tests; 0: none
    external: tuple[ExternalSource, ...] = ()  # local instruction datasets, each mapped to a category
    seen_sessions: frozenset[str] = frozenset()  # sha256 of session files already mined: skipped
    record: LoopRecord | None = None  # the loop's record of this specialist: self-description's ground truth
    teacher: TeacherConfig | None = None  # None: no teacher (the default)
    star: StarConfig | None = None  # None: no STaR sampling (the default)


def build_plan(
    specialist: str, settings: HarvesterSettings, *, repo: Path | str | None = None, sessions: Path | None = None,
    tokenizer_dir: Path | None = None, weak_categories: tuple[str, ...] = (), since_commit: str | None = None,
    seen_sessions: frozenset[str] = frozenset(), record: LoopRecord | None = None,
) -> tuple[HarvestPlan, str | None]:
    """The plan for one harvest from the harvester's settings, and a warning to log (or None)."""
    from services.harvester.formats import supported_fim_share  # reads the tokenizer: lazily

    fim_share, why = supported_fim_share(tokenizer_dir, settings.fim_share)
    plan = HarvestPlan(
        specialist=specialist, repo=Path(repo) if repo else None, sessions=sessions,
        weak_categories=weak_categories, since_commit=since_commit, max_commits=settings.max_commits,
        fim_share=fim_share, tokenizer_dir=tokenizer_dir,
        tool_specs=tuple(p for p in settings.tool_specs if Path(p).exists()), docs=settings.docs,
        mutant_budget_s=settings.mutant_budget_s,
        external=tuple(ExternalSource(path=x.path, category=x.category, limit=x.limit) for x in settings.external),
        seen_sessions=seen_sessions, teacher=teacher_config(settings), star=star_config(specialist, settings),
        # without a loop (ouro harvest): what the specialist file and the base model's config say
        record=record or config_record(specialist, CommonSettings().base_model, tokenizer_dir),
    )
    return plan, why


def teacher_config(settings: HarvesterSettings) -> TeacherConfig | None:
    if not settings.teacher_url:
        return None
    key = settings.teacher_api_key.get_secret_value() if settings.teacher_api_key else None
    return TeacherConfig(
        endpoint=ChatEndpoint(url=settings.teacher_url, model=settings.teacher_model, api_key=key,
                              timeout_s=settings.teacher_timeout_s),
        budget=settings.teacher_budget, rate_per_s=settings.teacher_rate_per_s,
        max_tokens=settings.teacher_max_tokens, tasks=tuple(settings.teacher_tasks),
    )


def star_config(specialist: str, settings: HarvesterSettings) -> StarConfig | None:
    if not settings.star_url:
        return None
    key = settings.star_api_key.get_secret_value() if settings.star_api_key else None
    return StarConfig(
        endpoint=ChatEndpoint(url=settings.star_url, model=settings.star_model.format(specialist=specialist),
                              api_key=key, timeout_s=settings.star_timeout_s),
        k=settings.star_k, budget=settings.star_budget, temperature=settings.star_temperature,
    )
