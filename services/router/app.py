"""The OpenAI-compatible front door: pick the specialist, lease its adapter, forward, label the answer.

    router = Router(table, backend_url="http://vllm:8000", base_model="smollm2", capture=None)
    response = await router.handle(Request("POST", "/v1/chat/completions", headers, body))

Routes: `POST /v1/chat/completions` (also `stream: true`, passed through as server-sent events),
`GET /v1/models`, `GET /healthz`; nothing else (no adapter loading, no state to write). With an API
key set, every route but `/healthz` wants `Authorization: Bearer <key>`. The `model` a client asks for:
- `auto`: routed by the estimate (`routing.py`) and the rule table in the specialist file;
- a specialist's name: that specialist's current champion (the base model while it has none);
- a versioned adapter (`coder-v7`), while it is a champion; or the base model's name.
Every answer carries `X-Ouro-Specialist`, `X-Ouro-Adapter` (the versioned name, or `base`) and
`X-Ouro-Effort`, also errors from the backend, so a client can tell who answered.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import ExitStack
from typing import Any

import httpx

from services.router.adapters import AdapterTable, Served
from services.router.capture import Capture, SseText, consented
from services.router.routing import Estimate, RoutingError, choose, estimate
from services.router.server import Request, Response, error
from shared import metrics
from shared.specialists import specialists

log = logging.getLogger("ouro.router")

AUTO = "auto"
# Backend headers worth passing on; hop-by-hop ones (length, encoding, connection) are the server's.
_PASS = ("content-type", "x-request-id")


class Router:
    def __init__(self, table: AdapterTable, *, backend_url: str, base_model: str, capture: Capture | None = None,
                 timeout: float = 600.0, max_connections: int = 256, api_key: str = "",
                 backend_api_key: str = "") -> None:
        self.table = table
        self.base_model = base_model
        self.capture = capture
        self.expected = f"Bearer {api_key}".encode() if api_key else None
        # One pooled client for the process: a connection per request would cost more than routing.
        self.client = httpx.AsyncClient(
            base_url=backend_url.rstrip("/").removesuffix("/v1"), timeout=httpx.Timeout(timeout, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
            headers={"Authorization": f"Bearer {backend_api_key}"} if backend_api_key else None,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def handle(self, req: Request) -> Response:
        route = req.path.split("?", 1)[0].rstrip("/")
        if req.method == "GET" and route in ("/healthz", "/health"):
            return Response.json(200, {"status": "ok"})
        if self.expected and not hmac.compare_digest(req.headers.get("authorization", "").encode(), self.expected):
            return error(401, "a valid API key is required (Authorization: Bearer <key>)", "authentication_error")
        if req.method == "POST" and route == "/v1/chat/completions":
            return await self.chat(req)
        if req.method == "GET" and route == "/v1/models":
            return Response.json(200, {"object": "list", "data": [
                {"id": name, "object": "model", "owned_by": "ouroboros"} for name in self.models()]})
        return error(404, f"no route {req.method} {req.path}")

    def models(self) -> list[str]:
        served = [s.adapter for s in self.table.served().values() if s.adapter]
        return [AUTO, *specialists().names, *sorted(served), self.base_model]

    def pick(self, model: str, est: Estimate) -> Served | None:
        """What serves a request for `model`; None: nothing by that name."""
        if model == AUTO:
            return self.table.current(choose(est, specialists()))
        if model in specialists():
            return self.table.current(model)
        if model == self.base_model:
            return Served(None, None)
        return self.table.by_adapter(model)

    async def chat(self, req: Request) -> Response:
        started = time.perf_counter()
        try:
            body = json.loads(req.body)
            messages = body["messages"]
            if not isinstance(messages, list) or not messages:
                raise ValueError("`messages` must be a non-empty list")
            est = estimate(messages, tools=body.get("tools"), effort_header=req.headers.get("x-ouro-effort"))
        except RoutingError as err:
            return error(400, str(err))
        except (ValueError, KeyError, TypeError) as err:
            return error(400, f"bad request: {err}")
        model = str(body.get("model") or AUTO)

        # Choosing the adapter and leasing it are one synchronous step: no swap can unload it between.
        served = self.pick(model, est)
        if served is None:
            return error(404, f"model {model!r} is not served here; ask for one of {self.models()}",
                         "model_not_found")
        hold = ExitStack()
        hold.enter_context(self.table.lease(served))
        headers = {"X-Ouro-Specialist": served.specialist or "base", "X-Ouro-Adapter": served.adapter or "base",
                   "X-Ouro-Effort": str(est.effort)}
        forward = {**body, "model": served.model(self.base_model)}
        record = self.capture is not None and consented(self.capture.enabled, req.headers)
        session = req.headers.get("x-ouro-session")
        label = served.specialist or "base"
        try:
            upstream = await self.client.send(self.client.build_request("POST", "/v1/chat/completions", json=forward),
                                              stream=True)
        except httpx.HTTPError as err:
            hold.close()
            metrics.ROUTER_REQUESTS.labels(label, "502").inc()
            return Response(502, error(502, f"backend unreachable: {err}", "server_error").body,
                            {"Content-Type": "application/json", **headers})
        headers |= {k: v for k, v in upstream.headers.items() if k.lower() in _PASS}

        if not body.get("stream") or upstream.status_code != 200:
            try:
                content = await upstream.aread()
            finally:
                await upstream.aclose()
                hold.close()
            metrics.ROUTER_REQUESTS.labels(label, str(upstream.status_code)).inc()
            metrics.ROUTER_SECONDS.labels(label).observe(time.perf_counter() - started)
            if record and upstream.status_code == 200:
                self._record(messages, _answer(content), served, est, session)
            return Response(upstream.status_code, content, headers)

        async def stream() -> AsyncIterator[bytes]:
            text = SseText() if record else None
            status = "200"
            try:
                async for chunk in upstream.aiter_bytes():  # decoded: the head says no encoding
                    if text is not None:
                        text.feed(chunk)
                    yield chunk
            except BaseException:
                status = "aborted"  # the client went away or the backend broke off
                raise
            finally:
                await upstream.aclose()
                hold.close()
                metrics.ROUTER_REQUESTS.labels(label, status).inc()
                metrics.ROUTER_SECONDS.labels(label).observe(time.perf_counter() - started)
            if text is not None:
                self._record(messages, text.text, served, est, session)

        return Response(200, stream(), headers)

    def _record(self, messages: list[dict[str, Any]], answer: str, served: Served, est: Estimate,
                session: str | None) -> None:
        assert self.capture is not None
        self.capture.record(messages, answer, specialist=served.specialist, effort=est.effort, session_id=session)


def _answer(content: bytes) -> str:
    try:
        return json.loads(content)["choices"][0]["message"]["content"] or ""
    except (ValueError, KeyError, IndexError, TypeError):
        return ""
