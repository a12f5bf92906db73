from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class External(BaseModel):
    """A local instruction dataset (JSONL, Parquet or a `datasets.save_to_disk` dir) and its category."""

    path: Path
    category: str
    limit: int | None = None


class HarvesterSettings(BaseSettings):
    """OURO_HARVESTER_*."""

    model_config = SettingsConfigDict(env_prefix="OURO_HARVESTER_", extra="ignore")

    batch_size: int = 64  # examples per examples.harvested event
    batch_bytes: int = 512 * 1024  # and at most this much JSON (NATS' default max_payload is 1 MB)
    max_commits: int = 500
    fim_share: float = 0.3
    incremental: bool = True  # mine only what is new since this repo's watermark
    # A rejection's weak categories are remembered for the next cycle of that specialist; with
    # this on, the harvester also starts that targeted cycle at once.
    rerun_on_feedback: bool = False
    # which specialist a commits.new / sessions.new harvest is for; empty: every specialist in the file
    trigger_specialist: str = ""
    # run each specialist's harvest schedule (cadence.harvest); one harvester group does it
    schedule: bool = True
    schedule_tick_s: float = 30.0
    ack_wait: float = 60.0
    # Extra sources mined in every cycle (JSON in the environment, e.g.
    # OURO_HARVESTER_TOOL_SPECS='["examples/tools"]',
    # OURO_HARVESTER_EXTERNAL='[{"path": "data/alpaca.jsonl", "category": "instruction"}]').
    tool_specs: list[Path] = [Path(__file__).resolve().parents[2] / "examples" / "tools"]
    docs: bool = True
    # Bugs put in on purpose and run against the repository's own tests in the sandbox
    # (generators/mutants.py): the wall-clock seconds a harvest may spend on them; 0 turns them off.
    mutant_budget_s: float = 240.0
    external: list[External] = []
    # An optional teacher model (services/harvester/teacher.py): an OpenAI-compatible endpoint that
    # writes or improves answers for up to `teacher_budget` drafts per harvest. Off when the URL is empty.
    teacher_url: str = ""
    teacher_model: str = "teacher"
    teacher_api_key: SecretStr | None = None
    teacher_budget: int = 200
    teacher_rate_per_s: float = 2.0
    teacher_max_tokens: int = 512
    teacher_timeout_s: float = 60.0
    teacher_tasks: list[str] = []  # JSON list of task names; empty: every chat draft
    # STaR (services/harvester/star.py): sample the current champion on prompts with a verifiable
    # answer and keep what verifies. The endpoint serves the champion (the router, or vLLM with the
    # champion's adapter loaded); `{specialist}` in the model name is the harvest's specialist.
    star_url: str = ""
    star_model: str = "{specialist}"
    star_api_key: SecretStr | None = None
    star_k: int = 4
    star_budget: int = 40
    star_temperature: float = 0.8
    star_timeout_s: float = 120.0
