"""The swap test has teeth: a router that unloads the old adapter at once loses requests in flight."""

from __future__ import annotations

import pytest

from services.router.settings import RouterSettings
from tests.router.conftest import Stack, free_port
from tests.router.test_swap import swap_under_load


@pytest.fixture
def router_settings() -> RouterSettings:
    # drain_timeout 0: unload as soon as the new adapter serves (what the promoter's own swap does)
    return RouterSettings(host="127.0.0.1", port=free_port(), base_model_name="base", drain_timeout=0)


async def test_without_draining_a_swap_fails_requests_in_flight(stack: Stack) -> None:
    answers, _ = await swap_under_load(stack)
    assert any(a.status == 500 and "unloaded while this request was running" in a.text for a in answers)
