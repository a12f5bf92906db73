"""Hot-swap the promoted adapter into a vLLM server (`--enable-lora`), over its HTTP API.

vLLM cannot run on the CPU machines this project is developed on, so this is the boundary the
project stops at: tests drive it against a real HTTP server standing in for vLLM.
The new adapter is loaded under an immutable versioned name (`coder-v7`) and the previous one
unloaded afterwards: same-name in-place reloads have open bugs in vLLM.
"""

from __future__ import annotations

import logging
from pathlib import Path

import httpx

log = logging.getLogger("ouro.promoter.serving")


class ServingError(RuntimeError):
    pass


class VllmServing:
    def __init__(self, base_url: str, timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout

    async def swap(self, name: str, adapter_dir: Path, previous: str | None) -> None:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout) as client:
            r = await client.post("/v1/load_lora_adapter", json={"lora_name": name, "lora_path": str(adapter_dir)})
            if r.status_code >= 400:
                raise ServingError(f"vLLM at {self.base_url} refused adapter {name}: {r.status_code} {r.text[:300]}")
            if previous and previous != name:
                r = await client.post("/v1/unload_lora_adapter", json={"lora_name": previous})
                if r.status_code >= 400:  # the new one serves already: log, don't fail the promotion
                    log.warning("could not unload %s: %s %s", previous, r.status_code, r.text[:200])
