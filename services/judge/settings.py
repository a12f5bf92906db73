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
    # a training with no decision after this long is counted failed and no longer blocks the next
    training_deadline_s: float = 6 * 3600.0

    def judge_config(self) -> JudgeConfig:
        return JudgeConfig(coherence=self.coherence, per_category_cap=self.per_category_cap)
