"""The runtime-LoRA API of an OpenAI-compatible server (vLLM started with `--enable-lora` and
`VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`): load an adapter under a name, unload it.

vLLM cannot run on the CPU machines this project is developed on; the tests drive this client
against `services/evaluator/local_server.py`, a real HTTP server standing in for it. The
adapter path must be readable by the server (a shared volume in compose and Kubernetes).
"""

from __future__ import annotations

from pathlib import Path

import httpx


class LoraServerError(RuntimeError):
    pass


class LoraClient:
    def __init__(self, base_url: str, timeout: float = 120.0, api_key: str = "") -> None:
        self.base_url = base_url.rstrip("/").removesuffix("/v1")
        self.timeout = timeout
        # vLLM started with --api-key wants it on every /v1 call, the adapter API included
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}

    async def _post(self, route: str, body: dict[str, str]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=self.timeout, headers=self.headers) as client:
            return await client.post(route, json=body)

    async def load(self, name: str, adapter_dir: Path, *, exist_ok: bool = False) -> None:
        """`exist_ok`: a name already loaded counts as loaded (resuming after a crash mid-swap)."""
        r = await self._post("/v1/load_lora_adapter", {"lora_name": name, "lora_path": str(adapter_dir)})
        if exist_ok and r.status_code == 400 and "already" in r.text:
            return
        if r.status_code >= 400:
            raise LoraServerError(f"{self.base_url} refused to load adapter {name}: {r.status_code} {r.text[:300]}")

    async def unload(self, name: str) -> None:
        r = await self._post("/v1/unload_lora_adapter", {"lora_name": name})
        if r.status_code >= 400:
            raise LoraServerError(f"{self.base_url} refused to unload adapter {name}: {r.status_code} {r.text[:300]}")
