"""Write an export directory: all of it or nothing.

Everything is written into a temporary directory beside the target and renamed into place at the
end; an error on the way removes the temporary directory and leaves the target as it was. An
existing target that is not an empty directory is refused unless `force`.

Layouts (each with README.md, the card, and card.json; a split with no examples is written only
by `hf`, where an empty split still loads):
- hf        `data/` — `datasets.DatasetDict.save_to_disk` (train, validation): `load_from_disk("data")`
- parquet   `data/<split>-00000-of-00001.parquet`; the README's `configs` let `load_dataset(DIR)` find them
            (both tables: each message's `role`, `content`, `tool_calls` and `tool_call_id` in OpenAI's
            shape, and `tools`, a JSON string with the schemas, on rows that call tools)
- openai    `<split>.jsonl`, one `{"messages": [...]}` per line (chat fine-tuning; `tool_calls`,
            `tool_call_id` and `tools` where an example calls tools)
- sharegpt  `<split>.jsonl`, one `{"id", "conversations": [{"from", "value"}]}` per line
            (`function_call` / `observation` turns and a `tools` string where it calls tools)
- alpaca    `<split>.jsonl`, one `{"id", "instruction", "input", "output", "system"}` per line
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ouro.export.card import corpus_card, corpus_markdown
from ouro.export.rows import (
    ExportError,
    ExportOptions,
    Row,
    Selection,
    alpaca_row,
    export_rows,
    openai_row,
    sharegpt_row,
    table_row,
)
from services.judge.corpus import Corpus


def check_target(out: Path, force: bool) -> None:
    """Refuse a target that holds something, unless `force` (then it is replaced, at the very end)."""
    if force or not (out.exists() or out.is_symlink()):
        return
    if not out.is_dir():
        raise ExportError(f"{out} exists and is not a directory; pass --force to replace it")
    if any(out.iterdir()):
        raise ExportError(f"{out} exists and is not empty; pass --force to replace it")


@contextlib.contextmanager
def atomic_dir(out: Path, force: bool) -> Iterator[Path]:
    """Yield a temporary directory; on success it becomes `out`, on any error it is removed."""
    check_target(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    try:
        yield tmp
        check_target(out, force)  # somebody may have written there meanwhile
        if out.exists() or out.is_symlink():
            old = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
        else:
            tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


# ---------------------------------------------------------------------- datasets and parquet


def _features():  # noqa: ANN202 - datasets is imported lazily (slow import)
    from datasets import Features, List, Value

    text = Value("string")
    return Features({
        "id": text, "specialist": text, "category": text, "generator": text, "format": text,
        "messages": List({"role": text, "content": text, "tool_calls": List({
            "id": text, "type": text, "function": {"name": text, "arguments": text}}), "tool_call_id": text}),
        "tools": text,
        "source": text, "commit": text, "path": text, "session_id": text, "group": text,
        "added_at": text, "corpus_version_added": Value("int64"),
    })


def _dataset(rows: list[Row]):  # noqa: ANN202
    import datasets
    from datasets import Dataset

    datasets.disable_progress_bars()  # a CLI's output is the card, not progress bars

    table = [table_row(r) for r in rows]
    columns = {name: [t[name] for t in table] for name in _features()}
    return Dataset.from_dict(columns, features=_features())


def _splits(sel: Selection, with_validation: bool) -> dict[str, list[Row]]:
    return {"train": sel.split("train")} | ({"validation": sel.split("validation")} if with_validation else {})


def write_hf(out: Path, splits: Mapping[str, list[Row]]) -> None:
    from datasets import DatasetDict

    dd = DatasetDict({name: _dataset(rows) for name, rows in splits.items()})
    # one shard for an empty split: with zero rows datasets writes no shard and cannot load it back
    dd.save_to_disk(str(out / "data"), num_shards={name: 1 for name in splits})


def write_parquet(out: Path, splits: Mapping[str, list[Row]]) -> None:
    (out / "data").mkdir()
    for name, rows in splits.items():
        _dataset(rows).to_parquet(str(out / "data" / f"{name}-00000-of-00001.parquet"))


def _write_jsonl(path: Path, items: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for item in items:
            fh.write(json.dumps(item, ensure_ascii=False) + "\n")


def _jsonl_writer(shape: Callable[[Row], dict[str, Any]]) -> Callable[[Path, Mapping[str, list[Row]]], None]:
    def write(out: Path, splits: Mapping[str, list[Row]]) -> None:
        for name, rows in splits.items():
            _write_jsonl(out / f"{name}.jsonl", [shape(r) for r in rows])
    return write


WRITERS: dict[str, Callable[[Path, Mapping[str, list[Row]]], None]] = {
    "hf": write_hf, "parquet": write_parquet, "openai": _jsonl_writer(openai_row),
    "sharegpt": _jsonl_writer(sharegpt_row), "alpaca": _jsonl_writer(alpaca_row),
}


def front_matter(card: Mapping[str, Any], splits: list[str]) -> str:
    lines = ["---", f"pretty_name: ouroboros {card['specialist']} corpus v{card['corpus_version']}",
             "task_categories: [text-generation]"]
    if card["format"] == "parquet":
        lines += ["configs:", "- config_name: default", "  data_files:"]
        lines += [f"  - split: {s}\n    path: data/{s}-*.parquet" for s in splits]
    return "\n".join([*lines, "---", ""]) + "\n"


def write_corpus_export(out: Path, sel: Selection, card: Mapping[str, Any], *, force: bool = False) -> Path:
    """Write `sel` in the card's format, with README.md and card.json, to `out` (all or nothing)."""
    fmt = str(card["format"])
    if not sel.rows:
        raise ExportError(f"nothing to export: the corpus of {card['specialist']} at version "
                          f"{card['corpus_version']} has no live examples left after the options "
                          f"(left out: {dict(sel.left_out) or 'none'})")
    splits = _splits(sel, with_validation=float(card["options"]["validation_share"]) > 0)
    if fmt != "hf":  # an empty file is no split to `load_dataset` (or to a fine-tuning API): leave it out
        splits = {name: rows for name, rows in splits.items() if rows}
    with atomic_dir(out, force) as tmp:
        WRITERS[fmt](tmp, splits)
        (tmp / "card.json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(corpus_markdown(card, front_matter(card, list(splits))), encoding="utf-8")
    return out


def export_corpus(corpus: Corpus, options: ExportOptions, out: Path, *, force: bool = False,
                  licences: Mapping[str, str] | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The pure export: rows → card → files. Returns the card."""
    options.check()
    check_target(out, force)  # before any work: a refused target costs nothing
    sel = export_rows(corpus, options)
    card = corpus_card(corpus, sel, options, exported_at=now or datetime.now(UTC), licences=licences)
    write_corpus_export(out, sel, card, force=force)
    return card
