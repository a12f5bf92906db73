"""A small HTTP/1.1 server on asyncio streams: keep-alive, Content-Length bodies, chunked streaming.

    server = HttpServer(handler)                  # handler: async (Request) -> Response
    await server.start("0.0.0.0", 8080)
    ...
    await server.stop(grace=30)                   # stop accepting, finish the requests in flight

Why not a framework: the router needs four routes, server-sent events and a graceful stop, and
runs in the same event loop as its NATS connection and registry watcher; the standard library
does that in a page, with no new dependency in every service image.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

log = logging.getLogger("ouro.router.http")

MAX_HEAD = 64 * 1024
MAX_BODY = 32 * 1024 * 1024  # a long conversation with tool schemas fits; more is refused with 413


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Response:
    status: int
    body: bytes | AsyncIterator[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        return cls(status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})})


def error(status: int, message: str, kind: str = "invalid_request_error") -> Response:
    """An error in OpenAI's shape, so OpenAI clients show the message."""
    return Response.json(status, {"error": {"message": message, "type": kind, "code": status}})


Handler = Callable[[Request], Awaitable[Response]]


class HttpServer:
    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.server: asyncio.Server | None = None
        self.busy = 0  # requests being handled or streamed
        self._idle = asyncio.Event()
        self._idle.set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def start(self, host: str, port: int) -> None:
        self.server = await asyncio.start_server(self._connection, host, port, limit=MAX_HEAD)

    async def stop(self, grace: float) -> None:
        """Stop accepting, let the requests in flight finish (up to `grace` s), close the rest."""
        if self.server is None:
            return
        self.server.close()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), grace)
        for writer in list(self._writers):
            writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.server.wait_closed(), 5)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            while self.server is not None and self.server.is_serving():
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                self._enter()
                try:
                    keep = await self._one(head, reader, writer)
                finally:
                    self._leave()
                if not keep:
                    return
        except ConnectionError:
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def _enter(self) -> None:
        self.busy += 1
        self._idle.clear()

    def _leave(self) -> None:
        self.busy -= 1
        if self.busy == 0:
            self._idle.set()

    async def _one(self, head: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Read one request, answer it; True: the connection stays open for the next."""
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, path, version = lines[0].split(" ", 2)
        except ValueError:
            await self._write(writer, error(400, "malformed request line"), False)
            return False
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await self._write(writer, error(411, "send the body with a Content-Length"), False)
            return False
        try:
            length = int(headers.get("content-length") or 0)
        except ValueError:
            await self._write(writer, error(400, "bad Content-Length"), False)
            return False
        if length > MAX_BODY:
            await self._write(writer, error(413, f"the body is over {MAX_BODY} bytes"), False)
            return False
        body = await reader.readexactly(length) if length else b""
        try:
            response = await self.handler(Request(method.upper(), path, headers, body))
        except Exception:  # noqa: BLE001 - one request's bug is its 500, never the server's end
            log.exception("handling %s %s", method, path)
            response = error(500, "internal error in the router", "server_error")
        return await self._write(writer, response, keep)

    async def _write(self, writer: asyncio.StreamWriter, response: Response, keep: bool) -> bool:
        reason = HTTPStatus(response.status).phrase if response.status in HTTPStatus._value2member_map_ else ""
        head = [f"HTTP/1.1 {response.status} {reason}"]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        head.append(f"Connection: {'keep-alive' if keep else 'close'}")
        if isinstance(response.body, bytes):
            head.append(f"Content-Length: {len(response.body)}")
            writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + response.body)
            await writer.drain()
            return keep
        head.append("Transfer-Encoding: chunked")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        stream = response.body
        try:
            async for chunk in stream:
                if chunk:
                    writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    await writer.drain()  # a client that went away raises here and ends the stream
            writer.write(b"0\r\n\r\n")
            await writer.drain()
        finally:
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()  # release what the stream holds (its adapter lease) even when cut short
        return keep
