"""The one place a specialist's training config is built, for the trainer service and `ouro train`:
the specialist file's LoRA and optimiser settings, the trainer's settings for the rest."""

from __future__ import annotations

from services.trainer.settings import TrainerSettings
from services.trainer.train import TrainConfig
from shared.specialists import profile


def train_config(specialist: str, settings: TrainerSettings) -> TrainConfig:
    prof = profile(specialist)
    return TrainConfig(
        epochs=settings.epochs or prof.epochs,
        lora_r=prof.lora_r,
        lora_alpha=prof.lora_alpha,
        learning_rate=prof.learning_rate,
        batch_size=settings.batch_size,
        grad_accum=settings.grad_accum,
        max_length=settings.max_length,
        max_steps=settings.max_steps,
        max_examples=settings.max_examples,
    )
