"""Every CLI failure a person is likely to meet is one clear line and a non-zero exit, with no
traceback; client commands give up within seconds when no loop is running."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from ouro.client import clear_loop, loop_url, record_loop
from shared.nats_server import free_port

ROOT = Path(__file__).resolve().parents[1]


def ouro(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    full = {**os.environ, "OURO_DATA_DIR": str(cwd / ".ouro"), "PYTHONPATH": str(ROOT), **(env or {})}
    full.pop("OURO_NATS_URL", None)
    return subprocess.run([sys.executable, "-m", "ouro.cli", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=120)


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.returncode != 0 and "Traceback" not in result.stderr and len(lines) == 1, result.stderr
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["history"], ["rollback", "--specialist", "coder"],
                                     ["lineage", "abc"], ["cycle", "--specialist", "coder", "--wait"]])
def test_no_loop_is_said_fast(command: list[str], tmp_path: Path) -> None:
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    result = ouro(*command, "--nats-url", url, cwd=tmp_path)
    assert time.monotonic() - started < 20  # the interpreter and imports included; no minutes of retries
    line = one_line(result)
    assert line.startswith(f"ouro {command[0]}: no loop at {url}") and "ouro up" in line


def test_bad_paths_are_named_before_anything_slow(tmp_path: Path) -> None:
    line = one_line(ouro("train", "--dataset", str(tmp_path / "nope"), "--out", str(tmp_path / "a"), cwd=tmp_path))
    assert f"--dataset {tmp_path / 'nope'} does not exist" in line
    line = one_line(ouro("eval", "--adapter", str(tmp_path / "nope"), cwd=tmp_path))
    assert f"--adapter {tmp_path / 'nope'} does not exist" in line
    line = one_line(ouro("eval", "--base", "--suite", "nosuch", cwd=tmp_path))
    assert "no suite 'nosuch'" in line
    started = time.monotonic()
    line = one_line(ouro("harvest", "--repo", str(tmp_path), "--out", str(tmp_path / "x.jsonl"), cwd=tmp_path))
    assert "is not a git repository" in line and time.monotonic() - started < 30
    assert not (tmp_path / ".ouro" / "models").exists()  # no base model converted for nothing
    line = one_line(ouro("cycle", "--specialist", "coder", "--repo", str(tmp_path / "gone"), cwd=tmp_path))
    assert "--repo" in line and "does not exist" in line


def test_a_running_loop_is_found_without_a_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OURO_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("OURO_NATS_URL", raising=False)
    record_loop(tmp_path, "nats://127.0.0.1:4333")
    assert loop_url(None) == "nats://127.0.0.1:4333"
    assert loop_url("nats://elsewhere:1") == "nats://elsewhere:1"
    clear_loop(tmp_path)
    assert loop_url(None) == "nats://127.0.0.1:4222"
