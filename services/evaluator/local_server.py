"""A minimal OpenAI-compatible chat server: a CPU stand-in for vLLM.

    server = serve(TransformersBackend(model_dir), port=0)   # then OpenAIBackend(server.url, "local")
    server.shutdown()

vLLM does not install on the CPU machines here, so the HTTP boundary the evaluator and promoter
use in production (`OpenAIBackend`) is exercised against this server instead. It answers
`POST /v1/chat/completions` (greedy, `max_tokens`) and `GET /v1/models`, one request at a time.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.evaluator.backends import Backend


class LocalServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], backend: Backend, model_name: str) -> None:
        super().__init__(address, _Handler)
        self.backend = backend
        self.model_name = model_name
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

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.rstrip("/") != "/v1/models":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        self._send(200, {"object": "list", "data": [{"id": self.server.model_name, "object": "model"}]})

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        if self.path.rstrip("/") != "/v1/chat/completions":
            self._send(404, {"error": {"message": f"no route {self.path}"}})
            return
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            messages = [{"role": m["role"], "content": m["content"]} for m in body["messages"]]
            max_tokens = int(body.get("max_tokens") or 128)
        except (ValueError, KeyError, TypeError) as exc:
            self._send(400, {"error": {"message": f"bad request: {exc}"}})
            return
        with self.server.lock:
            text = self.server.backend.generate([messages], max_tokens)[0]
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


def serve(backend: Backend, *, host: str = "127.0.0.1", port: int = 0, model_name: str = "local") -> LocalServer:
    """Start the server on a background thread (port 0: a free port) and return it."""
    server = LocalServer((host, port), backend, model_name)
    threading.Thread(target=server.serve_forever, name="openai-stand-in", daemon=True).start()
    return server
