"""`ouro run --cycles K`: K successive cycles on a scratch clone of the repository, replaying its
own history in steps, so every cycle has real new commits to learn from. The per-cycle table is
what the learning benchmark reuses.

    ouro run --repo . --cycles 3 --step 5     # clone, rewind 10 commits, then 3 cycles 5 commits apart
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ouro.cycle import CycleOutcome, new_request, run_cycle
from shared.bus import Bus
from shared.events import (
    CheckpointReady,
    CorpusUpdated,
    DatasetReady,
    EvalCompleted,
    Event,
    HarvestCompleted,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
)

# A cycle's stages, each ending at the first event of its kind (the learning benchmark reports
# the share of a cycle's wall time per stage from these timestamps).
STAGES: tuple[tuple[str, tuple[type[Event], ...]], ...] = (
    ("harvest", (HarvestCompleted,)),
    ("judge", (DatasetReady, CorpusUpdated)),
    ("train", (CheckpointReady,)),
    ("eval", (EvalCompleted,)),
    ("decide", (ModelPromoted, ModelRejected)),
)


@dataclass
class CycleRow:
    cycle: int
    head: str
    commits: int  # new since the previous cycle
    decision: str
    candidate: float | None
    champion: float | None
    dataset: int
    new: int
    replayed: int
    first_loss: float | None
    train_loss: float | None
    parent: str | None
    # what the learning benchmark reads (bench_learning.py): training size and the evaluator's intervals
    tokens: int | None = None
    steps: int | None = None
    categories: dict[str, dict] | None = None  # candidate mean and 95% interval per held-out category
    vs_champion: dict | None = None  # paired candidate − champion, overall (shared/stats.Paired)
    general: dict | None = None  # paired candidate − champion on the general held-out set (forgetting)
    stages_s: dict[str, float] | None = None  # wall seconds per stage, from the events' timestamps


def stage_seconds(events: list[Event]) -> dict[str, float]:
    """Seconds each stage took: from the previous stage's end (the request at first) to its first event."""
    start = next((e.occurred_at for e in events if isinstance(e, HarvestRequested)), None)
    if start is None and events:
        start = events[0].occurred_at
    out: dict[str, float] = {}
    for name, kinds in STAGES:
        # the first kind listed that occurred (the judge's stage ends with the dataset, when there is one)
        end = next((e.occurred_at for kind in kinds for e in events if isinstance(e, kind)), None)
        if end is None or start is None:
            continue
        out[name] = round((end - start).total_seconds(), 3)
        start = end
    return out


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True).stdout.strip()


def scratch_clone(source: Path, dest: Path, cycles: int, step: int) -> list[str]:
    """Clone `source` into `dest`, rewound so that `cycles` steps of `step` commits replay up to its HEAD.
    Returns the commit each cycle starts at (oldest first)."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(source), str(dest)], check=True)
    history = _git(dest, "rev-list", "--first-parent", "--reverse", "HEAD").splitlines()
    if len(history) < 2:
        raise ValueError(f"{source} has {len(history)} commit(s): nothing to replay")
    heads = [history[max(0, len(history) - 1 - (cycles - 1 - i) * step)] for i in range(cycles)]
    _git(dest, "reset", "--quiet", "--hard", heads[0])
    return heads


def _row(i: int, head: str, commits: int, outcome: CycleOutcome) -> CycleRow:
    def one(kind: type[Event]):  # noqa: ANN202
        return next((e for e in outcome.events if isinstance(e, kind)), None)

    ds, ck, ev = one(DatasetReady), one(CheckpointReady), one(EvalCompleted)
    stats = ev.stats if ev else None
    return CycleRow(cycle=i, head=head[:12], commits=commits, decision=outcome.decision, candidate=outcome.overall,
                    champion=outcome.champion_overall, dataset=ds.kept if ds else 0, new=ds.new if ds else 0,
                    replayed=ds.replayed if ds else 0, first_loss=ck.metrics.first_loss if ck else None,
                    train_loss=ck.metrics.train_loss if ck else None, parent=(ck.parent or "base")[:12] if ck else None,
                    tokens=ck.metrics.tokens if ck else None, steps=ck.metrics.steps if ck else None,
                    categories={c: i.model_dump() for c, i in stats.candidate.items()} if stats else None,
                    vs_champion=stats.overall.model_dump() if stats else None,
                    general=ev.general.model_dump() if ev and ev.general else None,
                    stages_s=stage_seconds(outcome.events))


async def run_cycles(bus: Bus, specialist: str, repo: Path, heads: list[str], sessions: str | None, *,
                     timeout: float, on_row: Callable[[CycleRow], None] | None = None,
                     on_outcome: Callable[[CycleOutcome], None] | None = None) -> list[CycleRow]:
    """One cycle per head, oldest first; `on_outcome` sees each cycle's events (the benchmark fetches
    the datasets and evaluation reports they point to)."""
    rows = []
    previous = heads[0]
    for i, head in enumerate(heads, start=1):
        commits = 0
        if i > 1:
            _git(repo, "reset", "--quiet", "--hard", head)  # the next step of history arrives
            commits = int(_git(repo, "rev-list", "--count", f"{previous}..{head}"))
        outcome = await run_cycle(bus, new_request(specialist, str(repo), sessions), timeout=timeout)
        rows.append(_row(i, head, commits, outcome))
        if on_outcome:
            on_outcome(outcome)
        if on_row:
            on_row(rows[-1])
        previous = head
    return rows


def table(rows: list[CycleRow]) -> str:
    def f(x: float | None) -> str:
        return "-" if x is None else f"{x:.3f}"

    out = [f"{'cycle':>5} {'head':<12} {'new commits':>11} {'dataset (new+replay)':>21} {'loss first→last':>16} "
           f"{'from':<12} {'candidate':>9} {'champion':>9}  decision"]
    for r in rows:
        out.append(f"{r.cycle:>5} {r.head:<12} {r.commits:>11} {f'{r.dataset} ({r.new}+{r.replayed})':>21} "
                   f"{f(r.first_loss) + '→' + f(r.train_loss):>16} {r.parent or '-':<12} {f(r.candidate):>9} "
                   f"{f(r.champion):>9}  {r.decision}")
    return "\n".join(out)


def rows_json(rows: list[CycleRow]) -> str:
    return json.dumps([asdict(r) for r in rows])
