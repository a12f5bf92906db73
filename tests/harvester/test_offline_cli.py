"""`ouro harvest` and the harvester service build their plan in one place (plan.build_plan) from
the same settings, so the CLI honours OURO_HARVESTER_* exactly as the service does; `ouro judge`
calls the judge's core directly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ouro.cli import main
from services.harvester.plan import build_plan
from services.harvester.settings import HarvesterSettings

from .conftest import RepoBuilder


def _three_commits(repo_builder: RepoBuilder) -> RepoBuilder:
    for i in range(3):
        # one module changed each time: a commit that only adds a file gets no review
        repo_builder.commit(f"fix: step {i} of the parser", {"pkg/m.py": f'"""Module {i}."""\n\nVALUE = {i}\n'})
    return repo_builder


def test_the_service_and_the_cli_share_the_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OURO_HARVESTER_MAX_COMMITS", "7")
    monkeypatch.setenv("OURO_HARVESTER_FIM_SHARE", "0.5")
    plan, _ = build_plan("coder", HarvesterSettings(), repo=tmp_path)
    assert plan.max_commits == 7 and plan.fim_share == 0.5 and plan.repo == tmp_path


def test_ouro_harvest_honours_the_harvester_settings(
    repo_builder: RepoBuilder, tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    repo = _three_commits(repo_builder)
    monkeypatch.setenv("OURO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("OURO_HARVESTER_TOOL_SPECS", "[]")
    out = tmp_path / "all.jsonl"
    assert main(["harvest", "--repo", str(repo.root), "--specialist", "coder", "--out", str(out)]) == 0
    every = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    monkeypatch.setenv("OURO_HARVESTER_MAX_COMMITS", "1")
    one_out = tmp_path / "one.jsonl"
    assert main(["harvest", "--repo", str(repo.root), "--specialist", "coder", "--out", str(one_out)]) == 0
    one = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    commits = {json.loads(line)["provenance"]["commit"] for line in one_out.read_text().splitlines()
               if json.loads(line)["generator"] == "git_diffs"}
    assert len(commits) == 1 and one["by_generator"]["git_diffs"] < every["by_generator"]["git_diffs"]


def test_ouro_judge_runs_the_core_and_names_a_missing_file(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    from tests.judge.conftest import make

    monkeypatch.setenv("OURO_BASE_MODEL", str(tiny_model_dir))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    src = tmp_path / "in.jsonl"
    src.write_text(make().model_dump_json() + "\n")
    assert main(["judge", "--in", str(src), "--out", str(tmp_path / "ds"), "--no-coherence"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["kept"] == 1
    assert (tmp_path / "ds" / "report.json").exists()
    assert main(["judge", "--in", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path / "x")]) == 2
    assert "nope.jsonl is not a file" in capsys.readouterr().err
