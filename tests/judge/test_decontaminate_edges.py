"""The decontamination index at its documented edges, on user benchmark files (`extra`).

13-grams for items of 13+ words, 8-grams for items of 8-12 words, one whole-item gram for items
of 5-7 words, nothing for shorter ones; an example is contaminated when *more than* `overlap`
of the n-grams of either side are shared. Also: user files in chat shape contribute their
prompts and reference answers, the built-in benchmarks are in the index key (so a changed
benchmark file rebuilds the cache), and the on-disk cache is reused, not rebuilt.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from services.judge import decontaminate as dc
from services.judge.decontaminate import load_index

WORDS = ("alpha bravo charlie delta echo foxtrot golf hotel india juliett kilo lima mike november oscar papa "
         "quebec romeo sierra tango uniform victor whiskey xray yankee zulu").split()


def _file(tmp_path: Path, rows: list[dict], name: str = "bench") -> Path:
    path = tmp_path / f"{name}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _index(tmp_path: Path, rows: list[dict]):  # noqa: ANN202
    return load_index(extra=[_file(tmp_path, rows)], builtin=False, cache_dir=tmp_path / "cache")


def words(a: int, b: int) -> str:
    return " ".join(WORDS[a:b])


def test_a_five_word_item_is_indexed_and_a_four_word_one_is_not(tmp_path: Path) -> None:
    index = _index(tmp_path, [{"id": "five", "text": words(0, 5)}, {"id": "four", "text": words(10, 14)}])
    assert index.match(words(0, 5), 0.5) == "file:bench/five"
    assert index.match(words(10, 14), 0.5) is None


def test_an_item_of_exactly_n_words_is_one_n_gram(tmp_path: Path) -> None:
    index = _index(tmp_path, [{"id": "thirteen", "text": words(0, 13)}])
    assert index.match(words(0, 13), 0.5) == "file:bench/thirteen"
    # 11 of its 13 words share no 13-gram (with 8-grams they would share 4 of 6)
    assert index.match(words(0, 11) + " one two three four", 0.5) is None


def test_exactly_half_shared_is_not_more_than_half(tmp_path: Path) -> None:
    index = _index(tmp_path, [{"id": "nine", "text": words(0, 9)}])  # two 8-grams
    assert index.match(words(0, 8) + " one two", 0.5) is None  # shares 1 of 2: exactly half
    assert index.match(words(0, 9) + " one", 0.5) == "file:bench/nine"  # shares both


def test_a_little_overlap_is_not_contamination(tmp_path: Path) -> None:
    index = _index(tmp_path, [{"id": "long", "text": words(0, 26)}])
    # 13 shared words out of a 40-word example: one shared 13-gram among 28 of the example and 14 of the item
    example = words(0, 13) + " " + " ".join(f"w{i}" for i in range(27))
    assert index.match(example, 0.5) is None
    assert index.match(words(0, 26), 0.5) == "file:bench/long"


def test_chat_shaped_user_files_contribute_prompt_and_reference(tmp_path: Path) -> None:
    rows = [
        {"id": "q1", "messages": [{"role": "user", "content": words(0, 14)}], "reference": words(14, 26)},
        {"id": "bad", "messages": "not a list", "question": 42, "prompt": ""},  # malformed: skipped, no crash
    ]
    index = _index(tmp_path, rows)
    assert index.match(words(0, 14), 0.5) == "file:bench/q1"
    assert index.match(words(14, 26), 0.5) == "file:bench/q1"


def test_builtin_benchmarks_are_part_of_the_index_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bench = tmp_path / "benchmarks"
    shutil.copytree(dc.BENCHMARKS_DIR, bench)
    monkeypatch.setattr(dc, "BENCHMARKS_DIR", bench)
    extra = [_file(tmp_path, [{"id": "x", "text": words(0, 10)}])]
    with_builtin = load_index(extra=extra, builtin=True, cache_dir=tmp_path / "cache")
    without = load_index(extra=extra, builtin=False, cache_dir=tmp_path / "cache")
    assert with_builtin.key != without.key
    question = json.loads((bench / "gsm8k_test.jsonl").read_text().splitlines()[3])["question"]
    assert with_builtin.match(question, 0.5) == "gsm8k:3" and without.match(question, 0.5) is None
    # a changed benchmark file is a new index, not yesterday's cache
    new_question = "A farmer plants " + words(0, 20) + " in rows of seven: how many rows are there?"
    with (bench / "gsm8k_test.jsonl").open("a") as fh:
        fh.write(json.dumps({"question": new_question, "answer": "#### 3"}) + "\n")
    rebuilt = load_index(extra=extra, builtin=True, cache_dir=tmp_path / "cache")
    assert rebuilt.key != with_builtin.key and rebuilt.match(new_question, 0.5) is not None


def test_the_disk_cache_is_reused_and_its_directory_created(tmp_path: Path) -> None:
    cache_dir = tmp_path / "does" / "not" / "exist"
    extra = [_file(tmp_path, [{"id": "x", "text": words(0, 10)}])]
    dc._LOADED.clear()  # nothing of this content in memory yet
    first = load_index(extra=extra, builtin=False, cache_dir=cache_dir)
    (cache_file,) = cache_dir.glob("decontam-*.npz")
    written = cache_file.stat().st_mtime_ns
    dc._LOADED.clear()  # a new process: only the disk cache is left
    again = load_index(extra=extra, builtin=False, cache_dir=cache_dir)
    assert again is not first and again.key == first.key
    assert cache_file.stat().st_mtime_ns == written  # loaded, not rebuilt
    assert again.match(words(0, 10), 0.5) == "file:bench/x"
