"""`ouro eval --json`: per category {mean, ci_low, ci_high, n}, and with --against the paired
difference (interval, p-value), with --general the forgetting figures, and the unscored counts."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from ouro.offline_cores import add_parsers, run
from tests.support.checkpoints import tiny_adapter


def _suite(root: Path, name: str, n: int) -> Path:
    d = root / name
    d.mkdir(parents=True)
    rows = [{"id": f"{name}-{i}", "category": "arith" if i % 2 else "words",
             "messages": [{"role": "user", "content": f"What is {i} + {i}?"}],
             "scorer": {"type": "numeric", "expected": 2 * i}} for i in range(n)]
    (d / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return d


def _ouro_eval(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_parsers(parser.add_subparsers(), run)
    return parser.parse_args(["eval", *argv])


def test_eval_json_carries_intervals_paired_figures_and_forgetting(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OURO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("OURO_DATA_DIR", str(tmp_path / "data"))
    adapter = tiny_adapter(tiny_model_dir, tmp_path / "adapter")
    args = _ouro_eval("--adapter", str(adapter), "--suite", str(_suite(tmp_path, "own", 6)), "--against", "base",
                      "--general", str(_suite(tmp_path, "general", 4)), "--max-new-tokens", "4", "--json")
    assert args.core(args) == 0
    out = json.loads(capsys.readouterr().out)
    own = out["suite"]
    assert set(own["categories"]) == {"arith", "words"}
    for iv in own["categories"].values():
        assert set(iv) == {"mean", "ci_low", "ci_high", "n"} and iv["n"] == 3
        assert iv["ci_low"] <= iv["mean"] <= iv["ci_high"]
    assert own["against"]["model"] == "base" and set(own["against"]["categories"]) == {"arith", "words"}
    paired = own["paired"]["overall"]
    assert paired["n"] == 6 and paired["ci_low"] <= paired["diff"] <= paired["ci_high"]
    assert 0.0 <= paired["p_two_sided"] <= 1.0 and own["paired"]["categories"]["arith"]["n"] == 3
    assert own["unscored"] == {}
    assert out["general"]["paired"]["overall"]["n"] == 4
    assert out["forgetting"]["reference"] == "base" and out["forgetting"]["n"] == 4


def test_eval_without_json_prints_a_table(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OURO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("OURO_DATA_DIR", str(tmp_path / "data"))
    args = _ouro_eval("--base", "--suite", str(_suite(tmp_path, "own", 4)), "--max-new-tokens", "4")
    assert args.core(args) == 0
    text = capsys.readouterr().out
    assert "overall" in text and "arith" in text and "n=2" in text
