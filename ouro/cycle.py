"""Start one turn of the loop and follow it on the bus until the promoter decides.

The follower reads the stream itself (an ordered consumer from "now"), so what it prints is
what the services said, in the order they said it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.js.api import DeliverPolicy

from shared.bus import Bus
from shared.events import (
    CheckpointReady,
    CorpusUpdated,
    DatasetReady,
    DeadLetter,
    EvalCompleted,
    Event,
    ExamplesHarvested,
    HarvestCompleted,
    HarvestRequested,
    ModelPromoted,
    ModelRejected,
    decode,
    new_id,
)


@dataclass
class CycleOutcome:
    cycle_id: str
    decision: str = "timeout"  # promoted | rejected | accumulated (no training started) | failed | timeout
    checkpoint_id: str | None = None
    overall: float | None = None
    categories: dict[str, float] = field(default_factory=dict)
    champion_overall: float | None = None
    champion: dict[str, float] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        return {
            "decision": self.decision,
            "checkpoint_id": self.checkpoint_id,
            "overall": self.overall,
            "categories": self.categories,
            "champion_overall": self.champion_overall,
            "reasons": self.reasons,
            "cycle_id": self.cycle_id,
        }


def describe(event: Event) -> str:
    match event:
        case HarvestRequested():
            weak = f", weak: {', '.join(event.weak_categories)}" if event.weak_categories else ""
            return f"harvest requested for {event.specialist} ({event.reason}{weak})"
        case ExamplesHarvested():
            return f"harvester: batch {event.batch_index} with {len(event.examples)} examples"
        case HarvestCompleted():
            gens = ", ".join(f"{k}={v}" for k, v in sorted(event.by_generator.items()))
            return f"harvester: {event.example_count} examples in {event.batch_count} batches ({gens})"
        case CorpusUpdated():
            retired = ", ".join(f"{k}={v}" for k, v in sorted(event.retired.items())) or "none"
            return (f"judge: corpus v{event.corpus_version} +{event.added} (retired: {retired}), {event.live} live, "
                    f"{event.new_since_training} new since training; {event.why}")
        case DatasetReady():
            dropped = ", ".join(f"{k}={v}" for k, v in sorted(event.dropped.items())) or "none"
            return (f"judge: dataset {event.dataset_id[:12]} = corpus v{event.corpus_version} snapshot of "
                    f"{event.kept} ({event.new} new, {event.replayed} replayed; dropped this cycle: {dropped})")
        case CheckpointReady():
            m = event.metrics
            return (f"trainer: checkpoint {event.checkpoint_id[:12]} ({m.method} on {m.device}, {m.steps} steps, "
                    f"loss {m.first_loss or 0:.3f} -> {m.train_loss:.3f}, {m.duration_s:.0f} s)")
        case EvalCompleted():
            return (f"evaluator: candidate {event.candidate_overall:.3f} vs champion "
                    f"{event.champion_overall:.3f} on {event.prompts} prompts")
        case ModelPromoted():
            return f"promoter: PROMOTED {event.checkpoint_id[:12]} ({'; '.join(event.reasons)})"
        case ModelRejected():
            return f"promoter: REJECTED {event.checkpoint_id[:12]} ({'; '.join(event.reasons)})"
        case DeadLetter():
            return f"DLQ from {event.service}: {event.reason}"
    return type(event).__name__


async def run_cycle(
    bus: Bus,
    request: Event,
    *,
    timeout: float = 3600.0,
    on_event: Callable[[float, Event], None] | None = None,
    on_wait: Callable[[float, str], None] | None = None,
    wait_every: float = 30.0,
) -> CycleOutcome:
    """Publish `request` (a harvest request, a commit, a session) and wait for the decision of its
    cycle: promoted or rejected, accumulated (the corpus grew, no training started), or failed.

    `on_wait(elapsed, stage)` is called after every `wait_every` seconds without an event, so a
    person watching a 5-minute training run knows what the loop is doing.
    """
    outcome = CycleOutcome(cycle_id=request.cycle_id)
    sub = await bus.js.subscribe("ouro.>", ordered_consumer=True, deliver_policy=DeliverPolicy.NEW)
    started = time.monotonic()
    try:
        await bus.publish(request)
        deadline = started + timeout
        quiet_since = started  # when the last event (or the last waiting note) was seen
        while time.monotonic() < deadline:
            try:
                msg = await sub.next_msg(timeout=1.0)
            except Exception:  # noqa: BLE001 - nats.errors.TimeoutError: nothing new this second
                if on_wait and time.monotonic() - quiet_since >= wait_every:
                    quiet_since = time.monotonic()
                    on_wait(quiet_since - started, waiting_on(outcome.events[-1] if outcome.events else request))
                continue
            try:
                event = decode(msg.subject, msg.data)
            except ValueError:
                continue
            if event.cycle_id != request.cycle_id:
                continue
            outcome.events.append(event)
            quiet_since = time.monotonic()
            if on_event:
                on_event(time.monotonic() - started, event)
            match event:
                case EvalCompleted():
                    outcome.champion_overall = event.champion_overall
                    outcome.champion = dict(event.champion)
                case ModelPromoted() | ModelRejected():
                    outcome.decision = "promoted" if isinstance(event, ModelPromoted) else "rejected"
                    outcome.checkpoint_id = event.checkpoint_id
                    outcome.overall = event.overall
                    outcome.categories = dict(event.categories)
                    outcome.reasons = list(event.reasons)
                    return outcome
                case CorpusUpdated(training=False):
                    # nothing to decide: the harvest grew the corpus and did not start a training
                    outcome.decision = "accumulated"
                    outcome.reasons = [event.why]
                    return outcome
                case DeadLetter():
                    outcome.decision = "failed"
                    outcome.reasons = [f"{event.service}: {event.reason}"]
                    return outcome
        return outcome
    finally:
        await sub.unsubscribe()


def waiting_on(last: Event) -> str:
    match last:
        case HarvestRequested() | ExamplesHarvested():
            return "the harvester is mining"
        case HarvestCompleted():
            return "the judge is filtering and adding to the corpus"
        case CorpusUpdated():
            return "the judge is writing the training snapshot"
        case DatasetReady():
            return "the trainer is training"
        case CheckpointReady():
            return "the evaluator is scoring candidate and champion"
        case EvalCompleted():
            return "the promoter is deciding"
    return "waiting"


def new_request(specialist: str, repo: str | None, sessions: str | None) -> HarvestRequested:
    return HarvestRequested(cycle_id=new_id(), specialist=specialist, reason="manual", repo=repo, sessions=sessions)


def score_table(outcome: CycleOutcome) -> str:
    """Per category: both means, the paired difference with its interval and the number of prompts
    (one prompt of six moves a mean by 0.167: n says how much a difference can mean)."""
    ev = next((e for e in outcome.events if isinstance(e, EvalCompleted)), None)
    stats = ev.stats if ev is not None else None
    head = f"{'category':<28} {'champion':>9} {'candidate':>9} {'delta':>7} {'n':>4}"
    rows = [head + (f"  {100 * stats.confidence:.0f}% interval of delta" if stats else "")]

    def paired(p) -> str:  # noqa: ANN001 - a shared.stats.Paired or None
        return f"  [{p.ci_low:+.3f}, {p.ci_high:+.3f}]" if p is not None else ""

    for cat in sorted(outcome.categories):
        champ = outcome.champion.get(cat)
        cand = outcome.categories[cat]
        p = stats.paired.get(cat) if stats else None
        delta = f"{cand - champ:+.3f}" if champ is not None else "-"
        rows.append(f"{cat:<28} {champ if champ is not None else float('nan'):>9.3f} {cand:>9.3f} {delta:>7} "
                    f"{p.n if p else '-':>4}{paired(p)}")
    if outcome.overall is not None:
        champ_overall = outcome.champion_overall or 0.0
        o = stats.overall if stats else None
        rows.append(f"{'OVERALL':<28} {champ_overall:>9.3f} {outcome.overall:>9.3f} "
                    f"{outcome.overall - champ_overall:>+7.3f} {o.n if o else '-':>4}{paired(o)}")
    return "\n".join(rows)


def summary_line(outcome: CycleOutcome) -> str:
    return json.dumps(outcome.summary(), sort_keys=True)
