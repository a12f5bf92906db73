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
    external: tuple[ExternalSource, ...] = ()  # local instruction datasets, each mapped to a category
    seen_sessions: frozenset[str] = frozenset()  # sha256 of session files already mined: skipped


def build_plan(
    specialist: str, settings: HarvesterSettings, *, repo: Path | str | None = None, sessions: Path | None = None,
    tokenizer_dir: Path | None = None, weak_categories: tuple[str, ...] = (), since_commit: str | None = None,
    seen_sessions: frozenset[str] = frozenset(),
) -> tuple[HarvestPlan, str | None]:
    """The plan for one harvest from the harvester's settings, and a warning to log (or None)."""
    from services.harvester.formats import supported_fim_share  # reads the tokenizer: lazily

    fim_share, why = supported_fim_share(tokenizer_dir, settings.fim_share)
    plan = HarvestPlan(
        specialist=specialist, repo=Path(repo) if repo else None, sessions=sessions,
        weak_categories=weak_categories, since_commit=since_commit, max_commits=settings.max_commits,
        fim_share=fim_share, tokenizer_dir=tokenizer_dir,
        tool_specs=tuple(p for p in settings.tool_specs if Path(p).exists()), docs=settings.docs,
        external=tuple(ExternalSource(path=x.path, category=x.category, limit=x.limit) for x in settings.external),
        seen_sessions=seen_sessions,
    )
    return plan, why
