from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class EvaluatorSettings(BaseSettings):
    """OURO_EVALUATOR_*."""

    model_config = SettingsConfigDict(env_prefix="OURO_EVALUATOR_", extra="ignore")

    max_new_tokens: int = 96
    batch_size: int = 16
    suite: str = ""  # empty: the specialist's own suite (shared/specialists.py)
    ack_wait: float = 60.0
