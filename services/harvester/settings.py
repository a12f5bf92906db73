from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class HarvesterSettings(BaseSettings):
    """OURO_HARVESTER_*."""

    model_config = SettingsConfigDict(env_prefix="OURO_HARVESTER_", extra="ignore")

    batch_size: int = 64  # examples per examples.harvested event
    max_commits: int = 500
    fim_share: float = 0.3
    incremental: bool = True  # mine only what is new since this repo's watermark
    # A rejection's weak categories are remembered for the next cycle of that specialist; with
    # this on, the harvester also starts that targeted cycle at once.
    rerun_on_feedback: bool = False
    # which specialist a commits.new / sessions.new harvest is for
    trigger_specialist: str = "orchestrator"
    ack_wait: float = 60.0
