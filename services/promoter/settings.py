from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class PromoterSettings(BaseSettings):
    """OURO_PROMOTER_*: overrides of the per-specialist thresholds in the specialist file (shared/specialists.yaml)."""

    model_config = SettingsConfigDict(env_prefix="OURO_PROMOTER_", extra="ignore")

    min_overall: float | None = None
    min_category: float | None = None
    must_beat_champion: bool | None = None
    gate: Literal["absolute", "relative"] | None = None  # promotion.gate
    min_over_base: float | None = None  # promotion.min_over_base
    margin: float = 0.0
    alpha: float = 0.05  # a category is significantly worse below this Holm-adjusted p
    forgetting_margin: float = 0.02  # the general held-out set may drop at most this much
    # An OpenAI-compatible vLLM server started with --enable-lora; empty: no serving to update.
    vllm_url: str = ""
    # vLLM's --api-key (inline or a mounted secret file); empty: a server without a key
    vllm_api_key: SecretStr = SecretStr("")
    vllm_api_key_file: Path | None = None
    ack_wait: float = 30.0
