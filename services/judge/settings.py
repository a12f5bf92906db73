from __future__ import annotations

from typing import Literal

from pydantic_settings import BaseSettings, SettingsConfigDict

from services.judge.config import JudgeConfig


class JudgeSettings(BaseSettings):
    """OURO_JUDGE_*: the bus adapter's knobs; the judging rules themselves are `JudgeConfig`."""

    model_config = SettingsConfigDict(env_prefix="OURO_JUDGE_", extra="ignore")

    # "all": filter worker and assembler in one process; "filter" or "assembler" to scale them apart
    role: Literal["all", "filter", "assembler"] = "all"
    coherence: bool = True
    per_category_cap: int = 600
    ack_wait: float = 30.0
    # how long the assembler waits for filter workers to stage every batch of a cycle
    assemble_timeout_s: float = 900.0
    # run the specialists' training schedules (cadence.train) in the assembler
    schedule: bool = True
    schedule_tick_s: float = 30.0
    # Per-stage deadlines of a training in flight: the trainer's checkpoint, then the evaluation,
    # then the decision. A stage past its deadline re-runs the cycle once, then fails it.
    # Training is the long one (heavy weekly runs on a GPU node); evaluation of the full suites
    # on both models takes minutes to an hour; a decision is a few KV writes.
    training_deadline_s: float = 6 * 3600.0
    evaluation_deadline_s: float = 2 * 3600.0
    decision_deadline_s: float = 600.0

    def stage_deadlines(self) -> dict[str, float]:
        return {"training": self.training_deadline_s, "evaluation": self.evaluation_deadline_s,
                "decision": self.decision_deadline_s}

    def judge_config(self) -> JudgeConfig:
        return JudgeConfig(coherence=self.coherence, per_category_cap=self.per_category_cap)
