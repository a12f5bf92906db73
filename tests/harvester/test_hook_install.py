"""Installing the post-commit hook where git really looks for it, and what the hook script does
with the user's own hook: runs it first, with git's arguments, and keeps its exit status."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
from pathlib import Path

import pytest

from services.harvester.hooks import CHAINED_NAME, MARKER, install
from shared.emit import pending
from shared.nats_server import free_port

ROOT = Path(__file__).resolve().parents[2]
GIT_ENV = {"GIT_AUTHOR_NAME": "Test Dev", "GIT_AUTHOR_EMAIL": "dev@example.org",
           "GIT_COMMITTER_NAME": "Test Dev", "GIT_COMMITTER_EMAIL": "dev@example.org"}


def git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", *args], cwd=repo, env=os.environ | GIT_ENV, check=True, capture_output=True,
                         text=True)
    return out.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "a.txt").write_text("a\n")
    git(root, "add", "a.txt")
    git(root, "commit", "-q", "-m", "first")
    return root


def test_core_hookspath_that_does_not_exist_yet_is_created_and_used(repo: Path) -> None:
    git(repo, "config", "core.hooksPath", "ci/githooks")  # two levels that do not exist yet
    installed = install(repo, nats_url=f"nats://127.0.0.1:{free_port()}")
    assert installed.hook == (repo / "ci" / "githooks" / "post-commit").resolve()
    assert os.access(installed.hook, os.X_OK) and MARKER in installed.hook.read_text()
    # git runs it: the commit's event lands in the spool (NATS is down)
    (repo / "b.txt").write_text("b\n")
    git(repo, "add", "b.txt")
    git(repo, "commit", "-q", "-m", "second")
    sha = git(repo, "rev-parse", "HEAD")
    deadline = time.monotonic() + 20
    while not pending(installed.spool_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [e.sha for e in pending(installed.spool_dir)] == [sha]  # type: ignore[attr-defined]


def test_the_hook_runs_this_checkouts_code(repo: Path) -> None:
    installed = install(repo, nats_url="nats://127.0.0.1:4222")
    text = installed.hook.read_text()
    assert f"PYTHONPATH={shlex.quote(str(ROOT))}" in text
    assert "-m ouro.hooks_cli emit commit" in text and "--nats-url nats://127.0.0.1:4222" in text


@pytest.mark.parametrize("status", [0, 3])
def test_the_chained_hooks_exit_status_is_the_hooks(repo: Path, status: int) -> None:
    hooks = repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    (hooks / "post-commit").write_text(f'#!/bin/sh\necho "$@" > "$(git rev-parse --git-dir)/args"\nexit {status}\n')
    (hooks / "post-commit").chmod(0o755)
    installed = install(repo, nats_url=f"nats://127.0.0.1:{free_port()}")
    assert installed.chained == (hooks / CHAINED_NAME).resolve()
    proc = subprocess.run([str(installed.hook), "x", "y"], cwd=repo, env=os.environ | GIT_ENV,
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == status
    assert (repo / ".git" / "args").read_text() == "x y\n"
