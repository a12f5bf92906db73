"""Bad input fails with a clear error and leaves nothing half-written."""

from __future__ import annotations

from pathlib import Path

import pytest

from ouro.export import write
from ouro.export.rows import ExportError, ExportOptions
from ouro.export.write import export_corpus
from services.judge.corpus import Corpus
from tests.export.corpora import SPECIALIST, T0, T1, file_examples, make_corpus


def _leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_a_non_empty_target_is_refused_and_left_alone(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me")
    with pytest.raises(ExportError, match="exists and is not empty; pass --force"):
        export_corpus(make_corpus(), ExportOptions(format="openai"), out)
    assert [p.name for p in out.iterdir()] == ["mine.txt"] and not _leftovers(tmp_path)


def test_a_file_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "out").write_text("x")
    with pytest.raises(ExportError, match="not a directory"):
        export_corpus(make_corpus(), ExportOptions(format="openai"), tmp_path / "out")


def test_an_empty_target_is_used_and_force_replaces(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    export_corpus(make_corpus(), ExportOptions(format="openai"), out)
    assert (out / "train.jsonl").is_file()
    (out / "stale.txt").write_text("old")
    export_corpus(make_corpus(), ExportOptions(format="sharegpt"), out, force=True)
    assert not (out / "stale.txt").exists() and (out / "card.json").is_file()
    assert not _leftovers(tmp_path)


def test_a_failure_mid_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def half(out: Path, splits: object) -> None:
        (out / "train.jsonl").write_text("{}\n")
        raise OSError("disk full")

    monkeypatch.setitem(write.WRITERS, "openai", half)
    with pytest.raises(OSError, match="disk full"):
        export_corpus(make_corpus(), ExportOptions(format="openai"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)
    # with --force over an earlier export: the earlier export is still there, whole
    export_corpus(make_corpus(), ExportOptions(format="sharegpt"), tmp_path / "prev")
    before = sorted(p.name for p in (tmp_path / "prev").iterdir())
    with pytest.raises(OSError):
        export_corpus(make_corpus(), ExportOptions(format="openai"), tmp_path / "prev", force=True)
    assert sorted(p.name for p in (tmp_path / "prev").iterdir()) == before and not _leftovers(tmp_path)


def test_an_empty_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no live examples"):
        export_corpus(Corpus(specialist=SPECIALIST), ExportOptions(format="hf"), tmp_path / "out")
    every_one_retired = Corpus(specialist=SPECIALIST).add(file_examples(2), cycle_id="c", now=T0)
    every_one_retired = every_one_retired.retire({i: "aged_out" for i in every_one_retired.entries}, now=T1)
    with pytest.raises(ExportError, match="no live examples"):
        export_corpus(every_one_retired, ExportOptions(format="hf"), tmp_path / "out")
    assert not (tmp_path / "out").exists() and not _leftovers(tmp_path)


def test_an_unknown_format_is_refused_before_anything(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown format 'jsonl'; one of: hf, parquet, openai, sharegpt, alpaca"):
        export_corpus(make_corpus(), ExportOptions(format="jsonl"), tmp_path / "out")
    assert not any(tmp_path.iterdir())
