from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class PromoterSettings(BaseSettings):
    """OURO_PROMOTER_*: overrides of the per-specialist thresholds in the specialist file (shared/specialists.yaml)."""

    model_config = SettingsConfigDict(env_prefix="OURO_PROMOTER_", extra="ignore")

    min_overall: float | None = None
    min_category: float | None = None
    must_beat_champion: bool | None = None
    margin: float = 0.0
    alpha: float = 0.05  # a category is significantly worse below this Holm-adjusted p
    forgetting_margin: float = 0.02  # the general held-out set may drop at most this much
    # An OpenAI-compatible vLLM server started with --enable-lora; empty: no serving to update.
    vllm_url: str = ""
    ack_wait: float = 30.0
