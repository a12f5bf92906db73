from __future__ import annotations

import json
import time
from pathlib import Path

from services.judge.decontaminate import BENCHMARKS_DIR, decontaminate, load_index
from tests.judge.conftest import make

SUITE_PROMPT = (
    "A user asks the orchestrator to rename a function across three repositories and open one pull "
    "request per repository. Which tools do you call, and in what order?"
)


def _suites(tmp_path: Path) -> Path:
    (tmp_path / "suites" / "orchestrator").mkdir(parents=True)
    row = {"id": "tool_use-03", "category": "tool_use", "messages": [{"role": "user", "content": SUITE_PROMPT}],
           "reference": "search, then edit, then open_pull_request for each repository"}
    (tmp_path / "suites" / "orchestrator" / "suite.jsonl").write_text(json.dumps(row) + "\n{half")
    return tmp_path / "suites"


def test_copies_of_a_suite_prompt_and_gsm8k_are_removed(tmp_path: Path, cache_dir: Path) -> None:
    question = json.loads((BENCHMARKS_DIR / "gsm8k_test.jsonl").read_text().splitlines()[123])["question"]
    index = load_index(suites_dir=_suites(tmp_path), cache_dir=cache_dir)
    suite_copy = make("I would call search first, then edit each file.", prompt=SUITE_PROMPT)
    gsm_copy = make("Let me work it out step by step. The answer is 18.", prompt=question, category="reasoning")
    normal = make()
    clean, dirty = decontaminate([suite_copy, gsm_copy, normal], index)
    assert clean == [normal]
    assert [(e.id, item) for e, item in dirty] == [
        (suite_copy.id, "suite:orchestrator/tool_use-03"), (gsm_copy.id, "gsm8k:123"),
    ]


def test_index_is_cached_and_missing_suites_dir_is_fine(tmp_path: Path, cache_dir: Path) -> None:
    load_index(suites_dir=tmp_path / "absent", cache_dir=cache_dir)
    assert list(cache_dir.glob("decontam-*.npz"))
    start = time.perf_counter()
    load_index(suites_dir=tmp_path / "absent", cache_dir=cache_dir)
    assert time.perf_counter() - start < 0.5
