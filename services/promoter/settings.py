from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class PromoterSettings(BaseSettings):
    """OURO_PROMOTER_*: overrides of the per-specialist thresholds in the specialist file (shared/specialists.yaml)."""

    model_config = SettingsConfigDict(env_prefix="OURO_PROMOTER_", extra="ignore")

    min_overall: float | None = None
    min_category: float | None = None
    must_beat_champion: bool | None = None
    margin: float = 0.0
    # An OpenAI-compatible vLLM server started with --enable-lora; empty: no serving to update.
    vllm_url: str = ""
    ack_wait: float = 30.0
