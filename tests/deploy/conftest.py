from __future__ import annotations

import pytest

from tests.deploy.contracts import DEPLOY, load_yaml


@pytest.fixture(scope="module")
def compose() -> dict:
    return load_yaml(DEPLOY / "compose.yaml")
