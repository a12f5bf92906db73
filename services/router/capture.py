"""Served conversations back into the loop: scrubbed at capture, published as `sessions.new`.

Consent is twofold: the deployment turns capture on (`OURO_ROUTER_CAPTURE=true`; off by default)
and any request can opt out with `X-Ouro-Capture: off`. Texts are scrubbed of secrets and e-mail
addresses before they leave the request (the `SessionLogger`'s rule), so no key a user pasted
reaches the stream. The event carries the specialist and effort the router used; the harvester
labels the session's intent examples with that route instead of guessing it from keywords.

Publishing happens after the answer is sent, in the background: a slow or absent NATS never
delays a user. What could not be published is counted (`ouro_router_sessions_captured_total
{outcome="failed"}`) and logged, not retried: serving comes first.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from shared import metrics
from shared.chat import content_text
from shared.events import ChatMessage, Event, SessionsNew, new_id
from shared.scrub import scrub

log = logging.getLogger("ouro.router.capture")

OPT_OUT = {"off", "no", "false", "0", "none", "opt-out"}
MAX_PENDING = 1000  # publishes waiting on NATS; beyond this, sessions are dropped (and counted)
_ROLES = {"system", "user", "assistant", "tool"}


def consented(enabled: bool, headers: dict[str, str]) -> bool:
    return enabled and headers.get("x-ouro-capture", "").strip().lower() not in OPT_OUT




def session_event(messages: list[dict[str, Any]], answer: str, *, specialist: str | None, effort: int,
                  session_id: str | None = None) -> SessionsNew | None:
    """The conversation (request messages + the answer), scrubbed; None when there is nothing to learn."""
    turns: list[ChatMessage] = []
    for m in [*messages, {"role": "assistant", "content": answer}]:
        role, text = m.get("role"), content_text(m.get("content"))
        if role in _ROLES and text.strip():
            clean, counts = scrub(text)
            for kind, n in counts.items():
                metrics.SECRETS_SCRUBBED.labels(kind).inc(n)
            turns.append(ChatMessage(role=role, content=clean))
    if not any(t.role == "user" for t in turns) or turns[-1].role != "assistant":
        return None
    return SessionsNew(cycle_id=new_id(), session_id=session_id or new_id(), format="openai",
                       messages=tuple(turns), specialist=specialist, effort=effort)


class SseText:
    """The assistant text of an OpenAI server-sent-event stream, fed chunk by chunk as it passes."""

    def __init__(self) -> None:
        self._buffer = b""
        self.parts: list[str] = []

    def feed(self, chunk: bytes) -> None:
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            line = line.strip()
            if not line.startswith(b"data:") or line == b"data: [DONE]":
                continue
            try:
                choices = json.loads(line[5:]).get("choices") or [{}]
                self.parts.append(choices[0].get("delta", {}).get("content") or "")
            except (ValueError, AttributeError, TypeError):
                continue

    @property
    def text(self) -> str:
        return "".join(self.parts)


class Capture:
    def __init__(self, publish: Callable[[Event], Awaitable[None]], *, enabled: bool) -> None:
        self.publish = publish
        self.enabled = enabled
        self._pending: set[asyncio.Task[None]] = set()

    def record(self, messages: list[dict[str, Any]], answer: str, *, specialist: str | None, effort: int,
               session_id: str | None = None) -> None:
        event = session_event(messages, answer, specialist=specialist, effort=effort, session_id=session_id)
        if event is None:
            return
        if len(self._pending) >= MAX_PENDING:
            metrics.ROUTER_CAPTURED.labels("dropped").inc()
            return
        task = asyncio.create_task(self._send(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _send(self, event: SessionsNew) -> None:
        try:
            await self.publish(event)
            metrics.ROUTER_CAPTURED.labels("published").inc()
        except Exception as err:  # noqa: BLE001 - the user has the answer; the loop loses one session
            metrics.ROUTER_CAPTURED.labels("failed").inc()
            log.warning("could not publish session %s: %s", event.session_id, err)

    async def flush(self) -> None:
        while self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)
