from __future__ import annotations

from pathlib import Path

import pytest


def write_dataset(out: Path, n: int = 12) -> Path:
    """A judge-shaped dataset directory: `out/data` with messages plus the extra columns."""
    from datasets import Dataset

    rows = []
    for i in range(n):
        rows.append(
            {
                "id": f"ex-{i}",
                "category": "tool_use" if i % 2 else "reasoning",
                "generator": "test",
                "format": "chat",
                "messages": [
                    {"role": "system", "content": "You route requests in the Ouroboros loop."},
                    {"role": "user", "content": f"What is {i} + {i}?"},
                    {"role": "assistant", "content": f"The answer is {2 * i}."},
                ],
            }
        )
    Dataset.from_list(rows).save_to_disk(str(out / "data"))
    return out


@pytest.fixture()
def tiny_dataset(tmp_path: Path) -> Path:
    return write_dataset(tmp_path / "dataset")
