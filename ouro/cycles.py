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
from shared.events import CheckpointReady, DatasetReady, Event


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

    ds, ck = one(DatasetReady), one(CheckpointReady)
    return CycleRow(cycle=i, head=head[:12], commits=commits, decision=outcome.decision, candidate=outcome.overall,
                    champion=outcome.champion_overall, dataset=ds.kept if ds else 0, new=ds.new if ds else 0,
                    replayed=ds.replayed if ds else 0, first_loss=ck.metrics.first_loss if ck else None,
                    train_loss=ck.metrics.train_loss if ck else None, parent=(ck.parent or "base")[:12] if ck else None)


async def run_cycles(bus: Bus, specialist: str, repo: Path, heads: list[str], sessions: str | None, *,
                     timeout: float, on_row: Callable[[CycleRow], None] | None = None) -> list[CycleRow]:
    rows = []
    previous = heads[0]
    for i, head in enumerate(heads, start=1):
        commits = 0
        if i > 1:
            _git(repo, "reset", "--quiet", "--hard", head)  # the next step of history arrives
            commits = int(_git(repo, "rev-list", "--count", f"{previous}..{head}"))
        outcome = await run_cycle(bus, new_request(specialist, str(repo), sessions), timeout=timeout)
        rows.append(_row(i, head, commits, outcome))
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
