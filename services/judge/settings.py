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

    def judge_config(self) -> JudgeConfig:
        return JudgeConfig(coherence=self.coherence, per_category_cap=self.per_category_cap)
