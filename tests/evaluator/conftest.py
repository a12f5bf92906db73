from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

# `.venv/bin/pytest` does not put the repository root on sys.path (no `pythonpath` in pyproject yet).
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import torch

    from shared.tiny_model import build_tiny_model

    torch.set_num_threads(min(2, torch.get_num_threads()))
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))
