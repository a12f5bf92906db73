from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from shared.events import Example, Provenance  # noqa: E402

ANSWER = (
    "The harvester publishes each batch of examples on the bus, and the judge filters them, "
    "removes duplicates, checks them against the benchmarks and writes a versioned dataset."
)


def make(
    response: str = ANSWER, *, prompt: str = "How do the harvester and the judge work together?",
    category: str = "architecture", generator: str = "docs", specialist: str = "orchestrator",
    format: str = "chat",
) -> Example:
    return Example.build(
        specialist=specialist, category=category, generator=generator,
        messages=[("user", prompt), ("assistant", response)], provenance=Provenance(source="test"),
        format=format,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="session")
def tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.support.tiny_model import build_tiny_model

    return build_tiny_model(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("judge-cache")
