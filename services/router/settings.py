from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class RouterSettings(BaseSettings):
    """OURO_ROUTER_*: where the router listens, the serving backend behind it, capture consent."""

    model_config = SettingsConfigDict(env_prefix="OURO_ROUTER_", extra="ignore")

    host: str = "0.0.0.0"
    port: int = 8080
    # An OpenAI-compatible server with runtime LoRA: vLLM (--enable-lora, VLLM_ALLOW_RUNTIME_LORA_UPDATING)
    # in production, services/evaluator/local_server.py on CPU.
    backend_url: str = "http://127.0.0.1:8000"
    # The name the backend serves the base model under (vLLM: its --served-model-name or --model).
    base_model_name: str = "base"
    # The key clients must send (`Authorization: Bearer <key>`, as OpenAI clients do) on every /v1
    # route; /healthz stays open for probes. Inline or a mounted secret file; empty: no key asked.
    api_key: SecretStr = SecretStr("")
    api_key_file: Path | None = None
    # vLLM's --api-key, sent on the requests forwarded to it and on its adapter API.
    backend_api_key: SecretStr = SecretStr("")
    backend_api_key_file: Path | None = None
    # Consent of this deployment to send served conversations back into the loop; a request can
    # still opt out with `X-Ouro-Capture: off`.
    capture: bool = False
    # How long an old adapter may keep serving the requests that leased it before it is unloaded.
    drain_timeout: float = 120.0
    request_timeout: float = 600.0
    # On SIGTERM: how long requests in flight may take to finish.
    shutdown_grace: float = 30.0
