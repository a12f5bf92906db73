"""When a specialist trains: the judge's curator decisions, pure.

A manual cycle (`ouro cycle`) and a rejection's feedback round train at once. A commit, a session
or a scheduled harvest grows the corpus and trains only when the specialist's `min_new_examples`
are new since the last training. While a training of the specialist runs, a trigger that would
start another is coalesced into one next run, started when the running one is decided. A
training is watched stage by stage (training → evaluation → decision), each with its own
deadline: a stage that gives no result by its deadline has the cycle re-run once from its last
completed stage (the same dataset.ready under a new cycle id: each stage that finished re-announces
its recorded result, so nothing is trained, evaluated or decided twice), and after a second missed
deadline it is marked failed and no longer blocks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict


class InFlight(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    cycle_id: str
    since: datetime
    pending: str | None = None  # a trigger that arrived meanwhile: run once more when this one is decided
    attempts: int = 1  # a training with no decision by its deadline is re-run once, then failed
    ready: str | None = None  # the dataset.ready that started it (JSON), to re-run from
    # the stage it waits on (STAGES) and since when: checkpoint.ready and eval.completed move it on
    stage: str = "training"
    stage_since: datetime | None = None

    def expired(self, now: datetime, deadline_s: float) -> bool:
        return now - self.since > timedelta(seconds=deadline_s)

    def stage_expired(self, now: datetime, deadlines: dict[str, float]) -> bool:
        return now - (self.stage_since or self.since) > timedelta(seconds=deadlines[self.stage])

    def advanced(self, stage: str, now: datetime) -> InFlight:
        """The same training, one stage further; a stage never goes back (a redelivered
        checkpoint.ready after eval.completed changes nothing)."""
        if STAGES.index(stage) <= STAGES.index(self.stage):
            return self
        return self.model_copy(update={"stage": stage, "stage_since": now})


# What a training in flight waits on, in order: the trainer's checkpoint.ready, the evaluator's
# eval.completed, the promoter's decision.
STAGES = ("training", "evaluation", "decision")


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    train: bool
    coalesce: bool  # remember the trigger and run once the running training is decided
    why: str


FORCED = frozenset({"manual", "feedback"})


def decide(reason: str, new: int, min_new: int, running: InFlight | None) -> Decision:
    if reason in FORCED:
        return Decision(train=True, coalesce=False, why=f"{reason}: trains at once")
    if reason == "schedule" and new == 0:
        return Decision(train=False, coalesce=False, why="scheduled, but nothing is new since the last training")
    if reason not in ("schedule", "coalesced") and new < min_new:
        return Decision(train=False, coalesce=False,
                        why=f"{new} new since the last training; trains at {min_new} (or on schedule)")
    if running is not None:
        return Decision(train=False, coalesce=True,
                        why=f"training {running.cycle_id[:12]} is running: this trigger runs once it is decided")
    return Decision(train=True, coalesce=False, why=f"{reason}: {new} new since the last training")


def overdue(running: InFlight, now: datetime, deadlines: dict[str, float]) -> str | None:
    """What to do with a training whose current stage is past its deadline: "rerun" (once),
    "fail", or None (still in time)."""
    if not running.stage_expired(now, deadlines):
        return None
    return "rerun" if running.attempts < 2 and running.ready else "fail"
