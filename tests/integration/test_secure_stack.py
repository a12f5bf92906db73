"""`ouro up`'s stack is locked by default: generated credentials (0600, reused across starts),
anonymous clients refused, each service connected as its own identity; with `tls=True` the
server speaks only TLS with a certificate from the project's own CA, and clients verify it."""

from __future__ import annotations

import json
import socket
import ssl
import stat
import time

import nats
import pytest

from ouro.stack import Stack
from shared.bus import Bus
from shared.nats_server import free_port


def _wait_ready(stack: Stack, name: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while f"{name} ready" not in stack.log_text(name):
        assert not stack.dead(), f"{name} exited:\n{stack.log_text(name)[-3000:]}"
        assert time.monotonic() < deadline, f"{name} not ready:\n{stack.log_text(name)[-3000:]}"
        time.sleep(0.2)


async def test_stack_refuses_anonymous_and_reuses_its_credentials(tmp_path) -> None:
    with Stack(tmp_path / "ouro", port=free_port(), services=("promoter",)) as stack:
        _wait_ready(stack, "promoter")
        with pytest.raises(nats.errors.Error, match="Authorization Violation"):
            await nats.connect(stack.url, allow_reconnect=False, max_reconnect_attempts=1)
        bus = await Bus.connect(stack.url, "test", attempts=3, auth=stack.auth("operator"))
        await bus.close()
        files = sorted(stack.auth_dir.iterdir())
        assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in files if p.is_file())
        first = stack.auth("promoter").password
    assert "Publish Violation" not in stack.log_text("nats")  # the promoter did its start-up within its rights
    with Stack(tmp_path / "ouro", port=free_port(), services=("promoter",)) as stack:
        assert stack.auth("promoter").password == first
        _wait_ready(stack, "promoter")


async def test_stack_over_tls_verifies_the_server(tmp_path) -> None:
    with Stack(tmp_path / "ouro", port=free_port(), services=("promoter",), tls=True) as stack:
        assert stack.url.startswith("tls://")
        _wait_ready(stack, "promoter")  # the service verified the server with the CA it was given
        auth = stack.auth("operator")
        bus = await Bus.connect(stack.url, "test", attempts=3, auth=auth)
        await bus.close()
        # A client that does not trust the project's CA does not get in ...
        with pytest.raises(ssl.SSLCertVerificationError):
            await nats.connect(stack.url, user=auth.user, password=auth.password, tls=ssl.create_default_context(),
                               allow_reconnect=False, max_reconnect_attempts=1, connect_timeout=2)
        # ... and one speaking plain text is answered with nothing but the demand for TLS.
        port = int(stack.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            info = json.loads(sock.recv(4096).decode().removeprefix("INFO "))
            assert info["tls_required"] is True
            sock.sendall(f'CONNECT {{"user":"{auth.user}","pass":"{auth.password}"}}\r\nPING\r\n'.encode())
            try:
                reply = sock.recv(4096)
            except (ConnectionResetError, TimeoutError):
                reply = b""
            assert b"PONG" not in reply
        assert stat.S_IMODE((stack.auth_dir / "tls" / "server-key.pem").stat().st_mode) == 0o600
