"""One OpenAI-compatible chat call, for the clients that ask a model over HTTP from outside the
evaluator: the harvester's teacher and its STaR sampler (the champion behind the router or vLLM).

    text = complete(ChatEndpoint(url="http://teacher:8000", model="qwen"), messages, max_tokens=512)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx


class ChatError(RuntimeError):
    """The endpoint could not be reached or answered without a message."""


@dataclass(frozen=True)
class ChatEndpoint:
    url: str
    model: str
    api_key: str | None = field(default=None, repr=False)  # never in logs or reprs
    timeout_s: float = 60.0

    @property
    def completions(self) -> str:
        return self.url.rstrip("/").removesuffix("/v1") + "/v1/chat/completions"


def complete(endpoint: ChatEndpoint, messages: list[dict[str, Any]], *, max_tokens: int = 512,
             temperature: float = 0.0, client: httpx.Client | None = None) -> str:
    body = {"model": endpoint.model, "messages": messages, "max_tokens": max_tokens, "temperature": temperature}
    headers = {"Authorization": f"Bearer {endpoint.api_key}"} if endpoint.api_key else {}
    try:
        if client is not None:
            response = client.post(endpoint.completions, json=body, headers=headers, timeout=endpoint.timeout_s)
        else:
            response = httpx.post(endpoint.completions, json=body, headers=headers, timeout=endpoint.timeout_s)
    except httpx.HTTPError as exc:
        raise ChatError(f"{endpoint.completions}: {type(exc).__name__}: {exc}") from exc
    if response.status_code != 200:
        raise ChatError(f"{endpoint.completions} answered {response.status_code}: {response.text[:300]}")
    try:
        return response.json()["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError) as exc:
        raise ChatError(f"{endpoint.completions} answered without choices[0].message.content") from exc


class RateLimit:
    """At most `per_s` calls a second: `wait()` before each call sleeps what is left of the interval."""

    def __init__(self, per_s: float) -> None:
        self.interval = 1.0 / per_s if per_s > 0 else 0.0
        self.last = 0.0

    def wait(self) -> None:
        pause = self.last + self.interval - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        self.last = time.monotonic()
