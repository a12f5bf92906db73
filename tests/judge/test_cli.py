from __future__ import annotations

import json
from pathlib import Path

import pytest

from services.judge.cli import main
from tests.judge.conftest import make


def test_cli_judges_a_jsonl_file(
    tmp_path: Path, tokenizer_dir: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_dir))
    src = tmp_path / "in.jsonl"
    src.write_text(make().model_dump_json() + "\n{oops\n")
    args = ["--in", str(src), "--out", str(tmp_path / "out"), "--tokenizer-dir", str(tokenizer_dir),
            "--no-coherence", "--history", str(tmp_path / "history.npz")]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["kept"] == 1 and first["dropped"] == {"invalid:json": 1}
    assert (tmp_path / "out" / "report.json").exists() and (tmp_path / "history.npz").exists()
    main(args)  # the history now holds the example: judging it again keeps nothing
    assert json.loads(capsys.readouterr().out)["dropped"]["duplicate:history"] == 1


def test_cli_names_a_missing_input(tmp_path: Path, capsys) -> None:
    assert main(["--in", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "out")]) == 2
    assert "nope.jsonl is not a file" in capsys.readouterr().err
