"""`ouro history`: the event chronicle, newest last.

    ouro history [--limit 50] [--cycle SHORT] [--type eval.completed] [--json]

Consecutive example batches of one harvest collapse into one line; `--json` carries each
event's fields a script needs, and for eval.completed the per-category intervals
({mean, ci_low, ci_high, n} of both models and the paired difference).
"""

from __future__ import annotations

import json

from shared.bus import Bus
from shared.events import STREAM_NAME, EvalCompleted, Event, ExamplesHarvested, Subject, decode

HEADER = f"{'seq':>6} {'time (UTC)':<19} {'cycle':<8} event"


def type_name(subject: Subject) -> str:
    """`ouro.eval.completed.v1` → `eval.completed`: what --type takes and --json prints."""
    return subject.value.removeprefix("ouro.").rsplit(".", 1)[0]


TYPES = {type_name(s): s for s in Subject}


def parse_types(names: list[str] | None) -> tuple[Subject, ...] | None:
    if not names:
        return None
    unknown = [n for n in names if n not in TYPES]
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(unknown)}: one of {', '.join(sorted(TYPES))}")
    return tuple(TYPES[n] for n in names)


async def recent(bus: Bus, *, limit: int, cycle: str | None,
                 subjects: tuple[Subject, ...] | None) -> list[tuple[int, Event]]:
    """The events asked for: by type through the per-subject index, else the stream's tail."""
    if subjects or cycle:
        from ouro.runs import read_events

        events = await read_events(bus, subjects)  # a cycle's events may be anywhere in the stream
    else:
        info = await bus.js.stream_info(STREAM_NAME)
        first, last = info.state.first_seq, info.state.last_seq
        events = []
        for seq in range(max(first, last - limit * 20 + 1), last + 1):
            try:
                raw = await bus.js.get_msg(STREAM_NAME, seq)
                events.append((seq, decode(raw.subject, raw.data)))
            except Exception:  # noqa: BLE001 - a deleted or foreign message: skip it
                continue
    if cycle:
        events = [(s, e) for s, e in events if e.cycle_id.startswith(cycle)]  # history prints 8-character ids
    return events


def collapse(events: list[tuple[int, Event]]) -> list[tuple[int, Event, int]]:
    """(seq, event, batches): a run of example batches of one cycle becomes its last batch, counted."""
    out: list[tuple[int, Event, int]] = []
    for seq, event in events:
        if (isinstance(event, ExamplesHarvested) and out and isinstance(out[-1][1], ExamplesHarvested)
                and out[-1][1].cycle_id == event.cycle_id):
            prev = out[-1]
            merged = event.model_copy(update={"examples": prev[1].examples + event.examples})  # type: ignore[attr-defined]
            out[-1] = (seq, merged, prev[2] + 1)
            continue
        out.append((seq, event, 1))
    return out


def line(seq: int, event: Event, batches: int) -> str:
    from ouro.cycle import describe

    text = describe(event)
    if isinstance(event, ExamplesHarvested) and batches > 1:
        text = f"harvester: {batches} batches up to #{event.batch_index}, {len(event.examples)} examples"
    return f"{seq:>6} {event.occurred_at:%Y-%m-%d %H:%M:%S} {event.cycle_id[:8]:<8} {text}"


def as_json(seq: int, event: Event, batches: int) -> dict[str, object]:
    from ouro.cycle import describe
    from shared.events import subject_of

    out: dict[str, object] = {"seq": seq, "type": type_name(subject_of(event)), "cycle_id": event.cycle_id,
                              "occurred_at": event.occurred_at.isoformat(), "text": describe(event)}
    if isinstance(event, ExamplesHarvested):
        out.update(batches=batches, examples=len(event.examples))
    if isinstance(event, EvalCompleted):
        out.update(checkpoint_id=event.checkpoint_id, suite=event.suite, prompts=event.prompts,
                   candidate_overall=event.candidate_overall, champion_overall=event.champion_overall)
        if event.stats is not None:
            s = event.stats
            out["confidence"] = s.confidence
            out["categories"] = {c: {"candidate": s.candidate[c].model_dump(), "champion": s.champion[c].model_dump(),
                                     "paired": s.paired[c].model_dump()} for c in s.paired}
            out["overall"] = s.overall.model_dump()
    return out


async def history(bus: Bus, *, limit: int, cycle: str | None, types: list[str] | None, json_out: bool) -> str:
    """The text to print; LookupError when nothing matched (the message says what was asked)."""
    subjects = parse_types(types)
    rows = collapse(await recent(bus, limit=limit, cycle=cycle, subjects=subjects))[-limit:]
    if not rows:
        what = " and ".join(x for x in (f"of cycle {cycle!r}" if cycle else "",
                                         f"of type {', '.join(types)}" if types else "") if x)
        raise LookupError(f"no events {what} in the stream" if what else "the stream is empty")
    if json_out:
        return json.dumps([as_json(*r) for r in rows], indent=2)
    return "\n".join([HEADER, *(line(*r) for r in rows)])
