"""A minimal OpenAI-compatible chat server: a CPU stand-in for vLLM.

    server = serve(TransformersBackend(model_dir), port=0)   # then OpenAIBackend(server.url, "local")
    server.shutdown()

vLLM does not install on the CPU machines here, so the HTTP boundary the evaluator and promoter
use in production (`OpenAIBackend`) is exercised against this server instead. It answers
`POST /v1/chat/completions` (greedy, `max_tokens`) and `GET /v1/models`, one request at a time.
Given the base model directory it also does what vLLM's `--enable-lora` runtime API does, which
the promoter's hot-swap speaks: `POST /v1/load_lora_adapter {"lora_name", "lora_path"}` makes
`lora_name` a model to ask for, `POST /v1/unload_lora_adapter {"lora_name"}` removes it; each
adapter is its own PEFT model, so several are held at once and each request gets the one it names.
It is strict where vLLM promises nothing: a request whose adapter is unloaded before its answer is
sent fails (500), so a client that swaps adapters (the router) is tested against the worst case.
`"stream": true` answers as server-sent events (the text is generated first, then sent in pieces).
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from services.evaluator.backends import Backend


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, address: tuple[str, int], backend: Backend, model_name: str, base_model_dir: Path | None = None,
        api_key: str = "",
    ) -> None:
        super().__init__(address, _Handler)
        self.api_key = api_key  # as vLLM's --api-key: every /v1 route wants `Authorization: Bearer <key>`
        self.backend = backend
        self.model_name = model_name
        self.base_model_dir = base_model_dir
        self.adapters: dict[str, Backend] = {}
        self.lock = threading.Lock()  # one generation at a time: torch already uses every core

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"


class _Handler(BaseHTTPRequestHandler):
    server: LocalServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass

    def _send(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, model: str, text: str) -> None:
        """OpenAI's chunked answer: a role delta, content deltas, a finish chunk, `[DONE]`."""
        ident, created = f"chatcmpl-{time.monotonic_ns()}", int(time.time())

        def event(delta: dict[str, str], finish: str | None = None) -> bytes:
            chunk = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model,
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
            return b"data: " + json.dumps(chunk).encode() + b"\n\n"

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.end_headers()  # HTTP/1.0: the body ends when the connection closes
        pieces = re.findall(r"\S+\s*|\s+", text)
        self.wfile.write(event({"role": "assistant"}))
        for piece in pieces:
            self.wfile.write(event({"content": piece}))
            self.wfile.flush()
        self.wfile.write(event({}, "stop") + b"data: [DONE]\n\n")

    def _refused(self) -> bool:
        if self.server.api_key and self.headers.get("Authorization") != f"Bearer {self.server.api_key}":
            self._send(401, {"error": "Unauthorized"})
            return True
        return False

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self._refused():
            return
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        names = [self.server.model_name, *self.server.adapters]
        self._send(200, {"object": "list", "data": [{"id": n, "object": "model"} for n in names]})

    def _lora(self, path: str, body: dict[str, Any]) -> None:
        name = body.get("lora_name")
        if not name:
            self._send(400, {"error": {"message": "`lora_name` is required"}})
        elif path.endswith("unload_lora_adapter"):
            if self.server.adapters.pop(name, None) is None:
                self._send(404, {"error": {"message": f"adapter {name} is not loaded"}})
            else:
                self._send(200, {"unloaded": name})
        elif self.server.base_model_dir is None:
            self._send(501, {"error": {"message": "started without a base model: cannot load adapters"}})
        elif name in self.server.adapters:
            self._send(400, {"error": {"message": f"adapter {name} is already loaded"}})
        else:
            from services.evaluator.backends import TransformersBackend

            with self.server.lock:
                self.server.adapters[name] = TransformersBackend(self.server.base_model_dir, Path(body["lora_path"]))
            self._send(200, {"loaded": name})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self._refused():
            return
        route = self.path.rstrip("/")
        if route not in ("/v1/chat/completions", "/v1/load_lora_adapter", "/v1/unload_lora_adapter"):
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            if route != "/v1/chat/completions":
                self._lora(route, body)
                return
            messages = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
            max_tokens = int(body.get("max_tokens") or 128)
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": {"message": f"bad request: {exc}"}})
            return
        model = body.get("model", self.server.model_name)
        backend = self.server.adapters.get(model, self.server.backend if model == self.server.model_name else None)
        if backend is None:
            self._send(404, {"error": {"message": f"model {model} is not served here"}})
            return
        with self.server.lock:
            text = backend.generate([messages], max_tokens)[0]
        if model != self.server.model_name and self.server.adapters.get(model) is not backend:
            self._send(500, {"error": {"message": f"adapter {model} was unloaded while this request was running"}})
            return
        if body.get("stream"):
            self._stream(model, text)
            return
        self._send(
            200,
            {
                "id": f"chatcmpl-{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.server.model_name),
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
            },
        )


def serve(
    backend: Backend, *, host: str = "127.0.0.1", port: int = 0, model_name: str = "local",
    base_model_dir: Path | None = None, api_key: str = "",
) -> LocalServer:
    """Start the server on a background thread (port 0: a free port) and return it."""
    server = LocalServer((host, port), backend, model_name, base_model_dir, api_key)
    threading.Thread(target=server.serve_forever, name="openai-stand-in", daemon=True).start()
    return server
