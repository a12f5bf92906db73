from __future__ import annotations

import json
from pathlib import Path

import datasets

from services.judge import DedupHistory, JudgeConfig, assemble, build_filters, filter_batch, judge, write_dataset
from services.judge.decontaminate import BENCHMARKS_DIR
from tests.judge.conftest import make

OTHER = "Route the failing test to the coder specialist, then ask the reasoner to check the fix it proposes."


def _inputs() -> list:
    question = json.loads((BENCHMARKS_DIR / "gsm8k_test.jsonl").read_text().splitlines()[7])["question"]
    return [
        make(),
        make(OTHER, generator="teacher", category="orchestration"),
        make(OTHER, generator="docs", category="orchestration"),  # the same example from a weaker generator
        make("Working it out: the answer is 18 dollars for the whole day.", prompt=question, category="reasoning"),
        make("key AKIAIOSFODNN7EXAMPLE"),
        b"{broken",
    ]


def test_judge_end_to_end(tmp_path: Path, tokenizer_dir: Path, cache_dir: Path) -> None:
    config = JudgeConfig(coherence=False, suites=(), cache_dir=cache_dir)
    ds = judge(_inputs(), specialist="orchestrator", config=config, tokenizer_dir=tokenizer_dir)
    assert ds.report.kept == 2
    assert ds.report.dropped == {"contaminated": 1, "duplicate:exact": 1, "invalid:json": 1, "secret:aws": 1}
    assert ds.report.contaminated == {"gsm8k:7": [_inputs()[3].id]}
    assert [e.generator for e in ds.examples if e.category == "orchestration"] == ["teacher"]

    dataset_id = write_dataset(ds, tmp_path / "out")
    assert dataset_id == ds.dataset_id
    data = datasets.load_from_disk(str(tmp_path / "out" / "data"))
    assert data.column_names == ["id", "specialist", "category", "generator", "format", "messages"]
    assert data[0]["messages"][0]["role"] == "user"
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert report["mix"]["architecture"]["kept"] == 1
    assert len((tmp_path / "out" / "excluded.jsonl").read_text().splitlines()) == 4
    assert dataset_id in (tmp_path / "out" / "README.md").read_text()

    # same input judged again -> same id, also when split over workers and assembled out of order
    again = judge(_inputs(), specialist="orchestrator", config=config, tokenizer_dir=tokenizer_dir)
    assert again.dataset_id == dataset_id
    filters = build_filters(config, "orchestrator", tokenizer_dir)
    batches = [filter_batch(_inputs()[:3], filters), filter_batch(_inputs()[3:], filters)]
    split = assemble(batches[::-1], specialist="orchestrator", config=config, history=None)
    assert split.dataset_id == dataset_id

    # next cycle: yesterday's examples are not new
    history = DedupHistory()
    history.update(ds.examples)
    history.save(tmp_path / "history.npz")
    tomorrow = judge(_inputs(), specialist="orchestrator", config=config, tokenizer_dir=tokenizer_dir,
                     history=DedupHistory.load(tmp_path / "history.npz"))
    assert tomorrow.report.kept == 0 and tomorrow.report.dropped["duplicate:history"] == 2


def test_empty_dataset_still_has_columns(tmp_path: Path, cache_dir: Path) -> None:
    config = JudgeConfig(decontaminate=False, cache_dir=cache_dir)
    ds = assemble([], specialist="coder", config=config, history=None)
    write_dataset(ds, tmp_path / "out")
    assert "messages" in datasets.load_from_disk(str(tmp_path / "out" / "data")).column_names
