from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class EvaluatorSettings(BaseSettings):
    """OURO_EVALUATOR_*."""

    model_config = SettingsConfigDict(env_prefix="OURO_EVALUATOR_", extra="ignore")

    max_new_tokens: int = 96
    batch_size: int = 16
    suite: str = ""  # empty: the specialist's own suite (the specialist file)
    ack_wait: float = 60.0
    # An OpenAI-compatible server with runtime LoRA (vLLM --enable-lora) to generate with instead
    # of in-process transformers. Candidate and champion adapters are loaded into it for the
    # evaluation (from <data_dir>/serving, which the server must be able to read) and unloaded.
    endpoint: str = ""
    endpoint_base_model: str = ""  # the served name of the bare base model (the first champion)
    # vLLM's --api-key (inline or a mounted secret file), sent to `endpoint` and `judge_url`
    endpoint_api_key: SecretStr = SecretStr("")
    endpoint_api_key_file: Path | None = None
    # The judge model for `llm_judge` items: an OpenAI-compatible endpoint and the model it serves;
    # empty: the base model in-process (or at `endpoint`), a weak judge, said in the report.
    judge_url: str = ""
    judge_model: str = "default"
    # the general held-out set every candidate is also scored on against the champion, so the
    # promoter can refuse one that forgot what the model knew; empty: no forgetting check
    general_suite: str = "general"
    # at most this many prompts per category of each suite (Suite.head; 0: all). A CPU budget for
    # demos (`make run`): the subset has its own suite version, and its wider intervals are reported.
    max_per_category: int = 0
    # confidence of the intervals and paired tests sent to the promoter
    confidence: float = 0.95
