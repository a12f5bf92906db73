"""The installed post-commit hook never makes a commit wait on NATS.

NATS here is a real TCP listener that accepts connections and never answers (a hung or
firewalled server): the publisher then waits its full connect timeout (1 s) before it spools.
The hook runs that publisher in the background, so `git commit` returns well within the bound;
a hook that publishes in the foreground takes the connect timeout plus a Python start-up and
fails the bound. The event still ends up in the spool, so nothing is lost by returning early.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.harvester.hooks import install
from shared.emit import pending

GIT_ENV = {"GIT_AUTHOR_NAME": "Test Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
           "GIT_COMMITTER_NAME": "Test Dev", "GIT_COMMITTER_EMAIL": "dev@example.org"}
BOUND_S = 1.0  # a commit with the hook, NATS hung; the publisher alone needs more than this


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, env=os.environ | GIT_ENV, check=True, capture_output=True,
                         text=True)
    return out.stdout.strip()


@pytest.fixture
def hung_nats() -> Iterator[str]:
    """A nats:// URL whose server accepts TCP connections and never says a word."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"nats://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=2)
    for conn in held:
        conn.close()
    listener.close()


async def test_commit_returns_within_the_bound_while_nats_hangs(tmp_path: Path, hung_nats: str) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    installed = install(repo, nats_url=hung_nats)

    timings = []
    shas = []
    for name in ("a.txt", "b.txt"):
        (repo / name).write_text(f"{name}\n")
        git(repo, "add", name)
        started = time.perf_counter()
        git(repo, "commit", "-q", "-m", f"Add {name}")
        timings.append(time.perf_counter() - started)
        shas.append(git(repo, "rev-parse", "HEAD"))
    assert max(timings) < BOUND_S, f"commits took {[f'{t:.2f}' for t in timings]} s with the hook"

    # The background publisher did its job: both commits wait in the spool for NATS to come back.
    deadline = time.monotonic() + 20
    while len(pending(installed.spool_dir)) < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert sorted(e.sha for e in pending(installed.spool_dir)) == sorted(shas)  # type: ignore[attr-defined]
