"""Part 1 of the learning benchmark: K cycles through the bus exactly as in production (the
embedded nats-server and the five services as processes, ouro/stack.py), on a scratch clone
replaying this repository's history (ouro/cycles.py). After the cycles, the datasets each
training read and the evaluation reports (per-prompt scores) are fetched from the artifact store,
for the contamination check and the paired gain against the base."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from ouro.cycle import CycleOutcome
from ouro.cycles import CycleRow, run_cycles, scratch_clone
from shared.events import DatasetReady, EvalCompleted


def run_bus_cycles(data_dir: Path, repo: Path, work: Path, *, cycles: int, step: int, specialist: str,
                   sessions: Path | None, env: dict[str, str], timeout: float,
                   log: Callable[[str], None]) -> tuple[list[CycleRow], list[str], list[dict[str, object]]]:
    """Returns the rows, the heads replayed, and per cycle the local paths of what it trained on
    and the evaluator's report ({"dataset": dir | None, "report": file | None})."""
    from ouro.stack import Stack

    os.environ["OURO_DATA_DIR"] = str(data_dir)  # the operator's credentials are read from here
    heads = scratch_clone(repo, work / "scratch", cycles, step)
    log(f"cycles: scratch clone at {work / 'scratch'}, {cycles} cycles {step} commits apart")
    with Stack(data_dir, env=env) as stack:
        log(f"cycles: nats-server at {stack.url}; services {', '.join(stack.procs)}; logs in {stack.logs}")
        rows, fetched = asyncio.run(_cycles(stack.url, work, heads, specialist, sessions, timeout, log))
    return rows, heads, fetched


async def _cycles(url: str, work: Path, heads: list[str], specialist: str, sessions: Path | None, timeout: float,
                  log: Callable[[str], None]) -> tuple[list[CycleRow], list[dict[str, object]]]:
    from shared.bus import Bus
    from shared.store import ARTIFACT_BUCKET, NatsArtifactStore, get_dir

    bus = await Bus.connect(url, "ouro-cli", attempts=30)
    outcomes: list[CycleOutcome] = []
    try:
        rows = await run_cycles(
            bus, specialist, work / "scratch", heads, str(sessions) if sessions else None, timeout=timeout,
            on_row=lambda r: log(f"cycle {r.cycle}: {r.decision}; {json.dumps(asdict(r))}"),
            on_outcome=outcomes.append)
        store = NatsArtifactStore(await bus.object_store(ARTIFACT_BUCKET))
        fetched: list[dict[str, object]] = []
        for i, outcome in enumerate(outcomes, start=1):
            got: dict[str, object] = {"dataset": None, "report": None}
            for event in outcome.events:
                if isinstance(event, DatasetReady):
                    got["dataset"] = str(await get_dir(store, event.ref, work / "cycle-data" / f"{i}" / "dataset"))
                elif isinstance(event, EvalCompleted) and event.report is not None:
                    path = work / "cycle-data" / f"{i}" / "report.json"
                    got["report"] = str(await store.get_file(event.report, path))
            fetched.append(got)
    finally:
        await bus.close()
    return rows, fetched
