"""`ouro runs`, `ouro show`, `ouro artifacts` and `ouro history --json` on what a real tiny-model
cycle recorded (tests/cli/conftest.py), called through the CLI's own entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ouro.cli import main
from tests.cli.conftest import SPECIALIST, STEPS, Cycle


def ouro(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_runs_lists_the_cycle_with_its_data_loss_scores_and_decision(tiny_cycle: Cycle, capsys) -> None:
    rc, out, _ = ouro(capsys, "runs", "--json", "--limit", "1000", "--nats-url", tiny_cycle.url)
    assert rc == 0
    run = next(r for r in json.loads(out) if r["cycle_id"] == tiny_cycle.cycle_id)
    assert run["specialist"] == SPECIALIST and run["trigger"] == "manual" and run["dataset"] == 8
    assert run["steps"] == STEPS and run["first_loss"] > 0 and run["train_loss"] > 0
    assert run["checkpoint_id"] == tiny_cycle.checkpoint_id and run["decision"] == tiny_cycle.decision
    assert run["candidate"] is not None and run["ci_low"] <= run["diff"] <= run["ci_high"] and run["n"] > 0
    rc, out, _ = ouro(capsys, "runs", "--nats-url", tiny_cycle.url)
    header, *rows = out.splitlines()
    assert "loss first→last" in header and "decision" in header
    row = next(r for r in rows if r.startswith(tiny_cycle.cycle_id[:8]))
    assert SPECIALIST in row and tiny_cycle.decision in row and "→" in row and " vs " in row


def test_show_gives_categories_reasons_samples_and_lineage(tiny_cycle: Cycle, capsys) -> None:
    rc, out, _ = ouro(capsys, "show", tiny_cycle.checkpoint_id[:10], "--json", "--nats-url", tiny_cycle.url)
    assert rc == 0
    page = json.loads(out)
    assert page["checkpoint_id"] == tiny_cycle.checkpoint_id
    cats = {c["category"]: c for c in page["evaluation"]["categories"]}
    assert set(cats) == {"reasoning", "math", "non_reasoning"}
    for c in cats.values():
        assert c["n"] > 0 and c["ci_low"] <= c["delta"] <= c["ci_high"]
        assert c["delta"] == pytest.approx(c["candidate"] - c["champion"], abs=1e-6)
    assert page["decision"]["decision"] == tiny_cycle.decision and page["decision"]["reasons"]
    assert len(page["samples"]) == 5
    assert all(s["prompt"] != "(prompt not in the suite)" and "candidate" in s and "champion" in s
               for s in page["samples"])
    assert page["lineage"]["examples"] == 8
    rc, out, _ = ouro(capsys, "show", tiny_cycle.checkpoint_id, "--nats-url", tiny_cycle.url)
    assert rc == 0 and "OVERALL" in out and f"decision: {tiny_cycle.decision.upper()}" in out
    assert out.count("    candidate (") == 5 and "lineage: dataset" in out


def test_show_of_an_unknown_checkpoint_is_one_line(tiny_cycle: Cycle, capsys) -> None:
    rc, _, err = ouro(capsys, "show", "nosuchcheckpoint", "--nats-url", tiny_cycle.url)
    assert rc == 2 and err.strip() == ("ouro show: no checkpoint 'nosuchcheckpoint' in the registry "
                                       "(`ouro runs` lists them)")


def test_artifacts_get_fetches_adapter_dataset_and_report(tiny_cycle: Cycle, capsys, tmp_path: Path) -> None:
    rc, out, _ = ouro(capsys, "artifacts", "get", tiny_cycle.checkpoint_id[:12], "--out", str(tmp_path / "ck"),
                      "--nats-url", tiny_cycle.url)
    assert rc == 0
    assert (tmp_path / "ck" / "adapter" / "adapter_config.json").exists()
    assert (tmp_path / "ck" / "dataset" / "data").is_dir()
    report = json.loads((tmp_path / "ck" / "eval_report.json").read_text())
    assert {"candidate", "champion", "stats"} <= set(report)
    rc, out, _ = ouro(capsys, "artifacts", "list", "--prefix", tiny_cycle.dataset_name, "--nats-url", tiny_cycle.url)
    assert rc == 0 and tiny_cycle.dataset_name in out
    rc, out, _ = ouro(capsys, "artifacts", "get", tiny_cycle.dataset_name, "--out", str(tmp_path / "one"),
                      "--nats-url", tiny_cycle.url)
    assert rc == 0 and (tmp_path / "one" / tiny_cycle.dataset_name.rsplit("/", 1)[-1] / "data").is_dir()
    rc, _, err = ouro(capsys, "artifacts", "get", "datasets/none/x", "--out", str(tmp_path / "x"),
                      "--nats-url", tiny_cycle.url)
    assert rc == 2 and "no artifact 'datasets/none/x'" in err


def test_history_json_carries_per_category_intervals(tiny_cycle: Cycle, capsys) -> None:
    rc, out, _ = ouro(capsys, "history", "--type", "eval.completed", "--cycle", tiny_cycle.cycle_id[:8], "--json",
                      "--nats-url", tiny_cycle.url)
    assert rc == 0
    (ev,) = json.loads(out)
    assert ev["type"] == "eval.completed" and ev["checkpoint_id"] == tiny_cycle.checkpoint_id
    for stats in ev["categories"].values():
        assert set(stats["candidate"]) == {"mean", "ci_low", "ci_high", "n"}
        assert stats["candidate"]["ci_low"] <= stats["candidate"]["mean"] <= stats["candidate"]["ci_high"]
    rc, out, _ = ouro(capsys, "history", "--cycle", tiny_cycle.cycle_id[:8], "--nats-url", tiny_cycle.url)
    lines = out.splitlines()
    # the header, then request, dataset, checkpoint, eval, decision
    assert rc == 0 and lines[0].split()[:2] == ["seq", "time"] and len(lines) == 1 + 5
    rc, _, err = ouro(capsys, "history", "--type", "nosuch", "--nats-url", tiny_cycle.url)
    assert rc == 2 and "unknown event type(s) nosuch" in err


def test_progress_of_training_and_evaluation_arrives_live(tiny_cycle: Cycle) -> None:
    train = [p for p in tiny_cycle.progress if p.stage == "train"]
    assert train and train[-1].step == train[-1].total == STEPS and train[-1].loss is not None
    assert all(p.specialist == SPECIALIST for p in tiny_cycle.progress)
    evals = [(p.what, p.step) for p in tiny_cycle.progress if p.stage == "evaluate"]
    assert ("candidate", 0) in evals and any(w == "candidate" and s > 0 for w, s in evals)
