"""Trainer: LoRA / QLoRA SFT of a specialist adapter (pure core in `train.py`, subprocess in `worker.py`)."""

from services.trainer.train import TrainConfig, train_adapter

__all__ = ["TrainConfig", "train_adapter"]
