"""Start the whole loop on one machine: the embedded nats-server and the five services.

Each service is its own OS process (`python -m services.<name>`), exactly as in a container, so
killing one (SIGKILL) and starting it again is a real crash-and-resume, not a simulation.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared.nats_auth import ClientAuth, ensure_credentials, read_auth
from shared.nats_server import EmbeddedNats, free_port, port_open

SERVICES = ("harvester", "judge", "trainer", "evaluator", "promoter")
ROOT = Path(__file__).resolve().parent.parent


class Stack:
    def __init__(
        self,
        data_dir: Path,
        *,
        env: dict[str, str] | None = None,
        port: int | None = None,
        services: tuple[str, ...] = SERVICES,
        service_env: dict[str, dict[str, str]] | None = None,
        tls: bool = False,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        # Every process connects as its own NATS identity (shared/nats_auth.py); the passwords
        # and the server config are made here on first start and reused; anonymous is refused.
        self.auth_dir = self.data_dir / "auth"
        self.tls = tls
        self.logs = self.data_dir / "logs"
        self.extra_env = env or {}
        self.port = port
        self.services = services
        # per-process overrides, keyed by process name (e.g. a second judge "judge-filter-2")
        self.service_env = service_env or {}
        self.nats: EmbeddedNats | None = None
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        assert self.nats is not None, "stack not started"
        return self.nats.url

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "OURO_NATS_URL": self.url,
                "OURO_DATA_DIR": str(self.data_dir),
                "HF_HUB_OFFLINE": "1",
                "TRANSFORMERS_OFFLINE": "1",
                "HF_DATASETS_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": str(ROOT) + os.pathsep + env.get("PYTHONPATH", ""),
            }
        )
        if self.tls:
            env["OURO_NATS_CA"] = str(self.auth_dir / "tls" / "ca.pem")
        env.update(self.extra_env)
        return env

    def start(self) -> Stack:
        self.logs.mkdir(parents=True, exist_ok=True)
        port = self.port or (4222 if not port_open(4222) else free_port())
        tls = None
        if self.tls:
            from shared.nats_tls import ensure_tls

            tls = ensure_tls(self.auth_dir / "tls")
        config = ensure_credentials(self.auth_dir, tls)
        self.nats = EmbeddedNats(self.data_dir / "nats", port=port, log_file=self.logs / "nats.log", config=config,
                                 tls=self.tls).start()
        for name in self.services:
            self.spawn(name)
        return self

    def spawn(self, name: str, service: str | None = None) -> subprocess.Popen[bytes]:
        """Start process `name` running `services.<service>` (default: the service called `name`)."""
        log = open(self.logs / f"{name}.log", "ab")
        identity = service or name
        env = self.env() | {"OURO_NATS_USER": identity,
                            "OURO_NATS_PASSWORD_FILE": str(self.auth_dir / f"{identity}.password")}
        env |= self.service_env.get(name, {})
        proc = subprocess.Popen(
            [sys.executable, "-m", f"services.{service or name}"], cwd=ROOT, env=env, stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.procs[name] = proc
        return proc

    def auth(self, identity: str) -> ClientAuth:
        """The credentials of `identity` (e.g. "operator", or "admin" for a test's inspection)."""
        return read_auth(self.auth_dir, identity, self.auth_dir / "tls" / "ca.pem" if self.tls else None)

    def kill(self, name: str) -> None:
        """SIGKILL: no cleanup, no ack, no goodbye: what a crash looks like to the bus."""
        proc = self.procs.pop(name)
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def log_text(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def dead(self) -> dict[str, int]:
        return {n: p.returncode for n, p in self.procs.items() if p.poll() is not None}

    def stop(self, timeout: float = 30.0) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in self.procs.values():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        if self.nats:
            self.nats.stop()
            self.nats = None

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
