"""Hot-swap the promoted adapter into the serving vLLM.

The new adapter is loaded under an immutable versioned name (`coder-v7`) and the previous one
unloaded afterwards: same-name in-place reloads have open bugs in vLLM. The HTTP calls are
`shared/vllm.py`'s, tested against a real HTTP server standing in for vLLM.
"""

from __future__ import annotations

import logging
from pathlib import Path

from shared.vllm import LoraClient, LoraServerError

log = logging.getLogger("ouro.promoter.serving")


class VllmServing:
    def __init__(self, base_url: str, timeout: float = 60.0, api_key: str = "") -> None:
        self.client = LoraClient(base_url, timeout, api_key)

    async def swap(self, name: str, adapter_dir: Path, previous: str | None) -> None:
        await self.client.load(name, adapter_dir, exist_ok=True)
        if previous and previous != name:
            try:
                await self.client.unload(previous)
            except LoraServerError as err:  # the new one serves already: log, don't fail the promotion
                log.warning("%s", err)
