"""Specialists are configuration, not code: categories, data mix, LoRA settings, thresholds.

Each specialist is a separate LoRA adapter on the one shared base model. The categories here
are the names the harvester labels examples with, the judge balances on, and the evaluator's
suites score, so one table keeps the three in step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from shared.events import Specialist


@dataclass(frozen=True)
class Profile:
    categories: tuple[str, ...]
    # target share of the dataset per category; categories not named share what is left evenly
    mix: dict[str, float] = field(default_factory=dict)
    suite: str = ""
    epochs: float = 2.0
    lora_r: int = 32
    lora_alpha: int = 64
    learning_rate: float = 2e-4
    min_overall: float = 0.70
    min_category: float = 0.30
    must_beat_champion: bool = True
    min_tokens: int = 10
    max_tokens: int = 800


ORCHESTRATOR_CATEGORIES = (
    "intent_classification",
    "orchestration",
    "tool_use",
    "code_review",
    "reasoning",
    "architecture",
    "conciseness",
    "affect_reasoning",
    "consciousness_articulation",
)

PROFILES: dict[Specialist, Profile] = {
    Specialist.ORCHESTRATOR: Profile(categories=ORCHESTRATOR_CATEGORIES, suite="orchestrator", epochs=2.0),
    Specialist.CODER: Profile(
        categories=("instruction", "editing", "debugging", "review", "test_generation"),
        mix={"instruction": 0.40, "editing": 0.25, "debugging": 0.20, "review": 0.10, "test_generation": 0.05},
        suite="coder",
        epochs=3.0,
    ),
    Specialist.REASONER: Profile(
        categories=("reasoning", "math", "non_reasoning"),
        mix={"non_reasoning": 0.10},
        suite="reasoner",
        epochs=2.0,
    ),
}


def profile(specialist: Specialist | str) -> Profile:
    return PROFILES[Specialist(specialist)]
