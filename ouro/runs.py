"""`ouro runs`: one row per cycle that trained, read from the event chronicle.

    ouro runs [--specialist coder] [--limit 20] [--json]

A run is what its events say: the trigger (harvest request or scheduled training), the dataset
snapshot, the trainer's metrics, the evaluator's paired comparison and the promoter's decision.
Only the subjects a run is made of are read (the example batches are skipped), one message per
request, oldest first.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from shared.bus import Bus
from shared.events import (
    STREAM_NAME,
    CheckpointReady,
    DatasetReady,
    DeadLetter,
    EvalCompleted,
    Event,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
    Subject,
    TrainRequested,
    decode,
)

RUN_SUBJECTS = (Subject.HARVEST_REQUESTED, Subject.TRAIN_REQUESTED, Subject.DATASET_READY, Subject.CHECKPOINT_READY,
                Subject.EVAL_COMPLETED, Subject.MODEL_PROMOTED, Subject.MODEL_REJECTED, Subject.DLQ)


async def read_events(bus: Bus, subjects: tuple[Subject, ...] | None = None) -> list[tuple[int, Event]]:
    """(sequence, event) of every stored event on `subjects` (None: all), in stream order.

    Uses the stream's per-subject "next message" lookup, so a subject that is not asked for
    costs nothing however many messages it has."""
    wanted = subjects or tuple(Subject)
    out: list[tuple[int, Event]] = []
    info = await bus.js.stream_info(STREAM_NAME)
    for subject in wanted:
        seq = info.state.first_seq
        while seq <= info.state.last_seq:
            try:
                raw = await bus.js.get_msg(STREAM_NAME, seq, subject=subject.value, next=True)
            except Exception:  # noqa: BLE001 - nats NotFoundError: no more messages on this subject
                break
            try:
                out.append((raw.seq, decode(raw.subject, raw.data)))
            except ValueError:
                pass  # a malformed message (it went to the DLQ when it was consumed)
            seq = raw.seq + 1
    return sorted(out, key=lambda pair: pair[0])


@dataclass
class Run:
    cycle_id: str
    specialist: str
    trigger: str
    started_at: str
    dataset: int | None = None  # examples in the training snapshot
    new: int | None = None
    steps: int | None = None
    first_loss: float | None = None
    train_loss: float | None = None
    checkpoint_id: str | None = None
    candidate: float | None = None
    champion: float | None = None
    diff: float | None = None  # paired candidate − champion and its interval
    ci_low: float | None = None
    ci_high: float | None = None
    n: int | None = None
    decision: str = "in progress"
    reasons: tuple[str, ...] = ()
    duration_s: float = 0.0


def runs_from_events(events: list[tuple[int, Event]]) -> list[Run]:
    """Group the events by cycle; a cycle becomes a run once it has a dataset (it trained)."""
    by_cycle: dict[str, list[Event]] = {}
    for _, event in events:
        by_cycle.setdefault(event.cycle_id, []).append(event)
    runs = []
    for cycle_id, evs in by_cycle.items():
        ds = next((e for e in evs if isinstance(e, DatasetReady)), None)
        if ds is None:
            continue  # a harvest that only grew the corpus: no run
        trigger = next((e for e in evs if isinstance(e, HarvestRequested | TrainRequested)), None)
        run = Run(cycle_id=cycle_id, specialist=ds.specialist, started_at=evs[0].occurred_at.isoformat(),
                  trigger=trigger.reason if trigger else ds.reason, dataset=ds.kept, new=ds.new)
        for e in evs:
            match e:
                case CheckpointReady():
                    m = e.metrics
                    run.steps, run.first_loss, run.train_loss = m.steps, m.first_loss, m.train_loss
                    run.checkpoint_id = e.checkpoint_id
                case EvalCompleted():
                    run.candidate, run.champion = e.candidate_overall, e.champion_overall
                    if e.stats is not None:
                        o = e.stats.overall
                        run.diff, run.ci_low, run.ci_high, run.n = o.diff, o.ci_low, o.ci_high, o.n
                case ModelPromoted() | ModelRejected():
                    run.decision = "promoted" if isinstance(e, ModelPromoted) else "rejected"
                    run.reasons = tuple(e.reasons)
                case DeadLetter():
                    run.decision, run.reasons = "failed", (f"{e.service}: {e.reason}",)
        run.duration_s = round((evs[-1].occurred_at - evs[0].occurred_at).total_seconds(), 1)
        runs.append(run)
    return runs


def _f(x: float | None, fmt: str = ".3f") -> str:
    return "-" if x is None else format(x, fmt)


def runs_table(runs: list[Run]) -> str:
    head = (f"{'cycle':<8} {'specialist':<12} {'trigger':<9} {'dataset':>7} {'steps':>5} {'loss first→last':>15}  "
            f"{'candidate vs champion (paired diff, interval)':<46} {'decision':<11} {'duration':>8}")
    rows = [head]
    for r in runs:
        if r.candidate is None:
            score = "-"
        else:
            score = f"{r.candidate:.3f} vs {_f(r.champion)}"
            if r.diff is not None:
                score += f" ({r.diff:+.3f} [{r.ci_low:+.3f}, {r.ci_high:+.3f}], n={r.n})"
        loss = f"{_f(r.first_loss)}→{_f(r.train_loss)}"
        rows.append(f"{r.cycle_id[:8]:<8} {r.specialist:<12} {r.trigger:<9} {_f(r.dataset, 'd'):>7} "
                    f"{_f(r.steps, 'd'):>5} {loss:>15}  {score:<46} {r.decision:<11} {r.duration_s:>7.0f}s")
    return "\n".join(rows)


def runs_json(runs: list[Run]) -> str:
    return json.dumps([asdict(r) for r in runs], indent=2)


async def list_runs(bus: Bus, specialist: str | None = None, limit: int = 20) -> list[Run]:
    runs = runs_from_events(await read_events(bus, RUN_SUBJECTS))
    if specialist:
        runs = [r for r in runs if r.specialist == specialist]
    return runs[-limit:]
