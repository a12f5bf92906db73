from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainerSettings(BaseSettings):
    """OURO_TRAINER_*: overrides of the per-specialist training settings in shared/specialists.py."""

    model_config = SettingsConfigDict(env_prefix="OURO_TRAINER_", extra="ignore")

    epochs: float | None = None
    max_steps: int = -1  # cap the steps (the CPU demo); -1: train the profile's epochs in full
    max_examples: int = 0
    batch_size: int = 4
    grad_accum: int = 1
    max_length: int = 512
    ack_wait: float = 60.0
