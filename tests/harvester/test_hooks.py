"""The post-commit hook in a real git repository, publishing to the real nats-server."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from services.harvester.hooks import CHAINED_NAME, HookError, install
from shared.bus import Bus
from shared.emit import pending
from shared.events import CommitsNew, SessionsNew, Subject
from shared.nats_server import EmbeddedNats, free_port
from tests.busutil import read_stream

GIT_ENV = {"GIT_AUTHOR_NAME": "Test Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
           "GIT_COMMITTER_NAME": "Test Dev", "GIT_COMMITTER_EMAIL": "dev@example.org"}


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, env=os.environ | GIT_ENV, check=True, capture_output=True,
                         text=True)
    return out.stdout.strip()


def commit(repo: Path, name: str) -> tuple[str, float]:
    """Commit a new file with `git commit`; the sha and the command's wall time in ms."""
    (repo / name).write_text(f"{name}\n")
    git(repo, "add", name)
    started = time.perf_counter()
    git(repo, "commit", "-q", "-m", f"Add {name}")
    return git(repo, "rev-parse", "HEAD"), (time.perf_counter() - started) * 1000


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    return root


async def commits_for(bus: Bus, sha: str, timeout: float = 10.0) -> list[CommitsNew]:
    """Every commits.new event for `sha` in the stream, polling until one arrives or `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = await read_stream(bus, Subject.COMMITS_NEW.value,
                                  lambda e: isinstance(e, CommitsNew) and e.sha == sha, idle=0.3)
        if found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.3)


def ouro(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ouro.hooks_cli", *args], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2])


async def test_commit_publishes_commits_new_and_runs_the_chained_hook(
        bus: Bus, nats_server: EmbeddedNats, repo: Path) -> None:
    old = repo / ".git" / "hooks" / "post-commit"
    old.write_text("#!/bin/sh\necho ran >> \"$(git rev-parse --git-dir)/old-hook-ran\"\n")
    old.chmod(0o755)
    result = ouro("hooks", "install", str(repo), "--nats-url", nats_server.url)
    assert result.returncode == 0, result.stderr
    assert "kept the existing post-commit hook" in result.stderr
    assert (repo / ".git" / "hooks" / CHAINED_NAME).exists()
    assert os.access(repo / ".git" / "hooks" / "post-commit", os.X_OK)
    # Reinstalling keeps the chain as it is instead of chaining our own hook.
    assert install(repo, nats_url=nats_server.url).chained == repo.resolve() / ".git" / "hooks" / CHAINED_NAME

    sha, ms = commit(repo, "a.txt")
    print(f"commit with hook, NATS up: {ms:.0f} ms")
    events = await commits_for(bus, sha)
    assert len(events) == 1, (repo / ".git" / "ouro" / "hook.log").read_text()
    assert (events[0].repo, events[0].branch) == (str(repo.resolve()), "main")
    assert (repo / ".git" / "old-hook-ran").read_text() == "ran\n"


async def test_nats_down_spools_and_flush_delivers(bus: Bus, nats_server: EmbeddedNats, repo: Path) -> None:
    installed = install(repo, nats_url=f"nats://127.0.0.1:{free_port()}")
    sha, ms = commit(repo, "b.txt")  # check=True: the commit succeeded
    print(f"commit with hook, NATS down: {ms:.0f} ms")
    deadline = time.monotonic() + 10
    while not pending(installed.spool_dir) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    assert [e.sha for e in pending(installed.spool_dir)] == [sha]  # type: ignore[attr-defined]

    result = await asyncio.to_thread(ouro, "emit", "flush", "--repo", str(repo), "--nats-url", nats_server.url)
    assert result.returncode == 0, result.stderr
    assert '"sent": 1, "pending": 0' in result.stdout
    assert len(await commits_for(bus, sha)) == 1
    assert pending(installed.spool_dir) == []


async def test_next_commit_delivers_the_spooled_one(bus: Bus, nats_server: EmbeddedNats, repo: Path) -> None:
    installed = install(repo, nats_url=f"nats://127.0.0.1:{free_port()}")
    first, _ = commit(repo, "c.txt")
    deadline = time.monotonic() + 10
    while not pending(installed.spool_dir) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    install(repo, nats_url=nats_server.url)  # NATS "comes back"
    second, _ = commit(repo, "d.txt")
    assert len(await commits_for(bus, second)) == 1
    assert len(await commits_for(bus, first, timeout=1)) == 1


def test_install_refuses_a_directory_that_is_not_a_repo(tmp_path: Path) -> None:
    with pytest.raises(HookError, match="not a git repository"):
        install(tmp_path, nats_url="nats://127.0.0.1:4222")


async def test_emit_session_publishes_the_path(bus: Bus, nats_server: EmbeddedNats, tmp_path: Path) -> None:
    log = tmp_path / "chat-42.jsonl"
    log.write_text('{"messages": [{"role": "user", "content": "hi"}]}\n')
    result = await asyncio.to_thread(ouro, "emit", "session", str(log), "--format", "openai",
                                     "--nats-url", nats_server.url, "--spool-dir", str(tmp_path / "spool"))
    assert result.returncode == 0, result.stderr
    published = await read_stream(bus, Subject.SESSIONS_NEW.value,
                                  lambda e: isinstance(e, SessionsNew) and e.ref == str(log.resolve()))
    refs = [e.session_id for e in published]
    assert refs == ["chat-42"]
